"""Capture: trace an eval-mode model with ``torch.fx`` into an :class:`LGraph`.

bnnflow.nn modules and torch.nn layers are leaf modules; containers (``nn.Sequential``, the
model's own blocks) are traced through. Each leaf call becomes one node with its parameters as
float64 numpy arrays (docs/conversion.md); a :class:`~bnnflow.nn.BinaryConv2d` (or
:class:`~bnnflow.nn.BinaryLinear`) with an input quantizer becomes a ``sign`` node followed by
the binary layer. Shapes come from :class:`torch.fx.passes.shape_prop.ShapeProp` on the
example input. The caller's model is never modified (capture works on a deep copy).
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from bnnflow import nn as bnn
from bnnflow.convert.errors import ConversionError
from bnnflow.convert.lgraph import LGraph, LNode
from bnnflow.graph.schema import MAX_BINARY_K
from bnnflow.models.tf_same import TFSamePad
from bnnflow.nn.int8 import _QWeight, observed_range_is_empty
from bnnflow.nn.nonlinear import piecewise_linear


class _Tracer(torch.fx.Tracer):
    """Leaf modules: bnnflow.nn and torch.nn layers. Records the qualified name of the module
    whose ``forward`` created each node in ``node.meta['bnnflow_scope']``."""

    def __init__(self) -> None:
        super().__init__()
        self._scope: list[str] = [""]

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if type(m).__module__.startswith("bnnflow.nn") or getattr(m, "bnnflow_leaf", False):
            return True
        return super().is_leaf_module(m, qualname)

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: tuple,
                    kwargs: dict) -> Any:
        self._scope.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self._scope.pop()

    def create_node(self, *args: Any, **kwargs: Any) -> torch.fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta["bnnflow_scope"] = self._scope[-1]
        return node


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def trace(model: nn.Module, example_input: torch.Tensor) -> torch.fx.GraphModule:
    """Symbolically trace ``model`` (already an eval-mode copy) and propagate shapes."""
    tracer = _Tracer()
    try:
        graph = tracer.trace(model)
    except Exception as err:  # fx raises many types for untraceable code
        raise ConversionError("", type(model).__name__,
                              f"torch.fx cannot trace the model: {err}") from err
    gm = torch.fx.GraphModule(tracer.root, graph)
    with torch.no_grad():
        ShapeProp(gm).propagate(example_input)
    return gm


def capture(model: nn.Module, example_input: torch.Tensor) -> LGraph:
    """Trace a deep copy of ``model`` in eval mode and return its :class:`LGraph`.

    Raises:
        ConversionError: an untraceable model, an unsupported layer, function or method.
    """
    if not isinstance(example_input, torch.Tensor) or example_input.dim() not in (2, 4):
        raise ConversionError("", "input", "example_input must be a tensor of shape [N, C, H, W]"
                              " or [N, C]")
    work = copy.deepcopy(model).eval()
    states = {}
    for name, m in work.named_modules():
        if isinstance(m, bnn.Int8Point):
            states[name] = {"mode": m.mode, "observed": int(m.num_observed),
                            "S": float(m.scale), "empty": observed_range_is_empty(m)}
            m.mode = "disabled"  # shape propagation must not observe the example input
    gm = trace(work, example_input.detach().to(torch.float32))
    return _Builder(gm, states).build()


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        raise ConversionError(str(node.meta.get("bnnflow_scope", "")), str(node.target),
                              "does not produce a single tensor")
    return tuple(int(d) for d in meta.shape[1:])


def _pair(v: Any, module: str, op: str, what: str) -> int:
    """An int from an int or a square pair (``(3, 3)``); anything else is unsupported."""
    if isinstance(v, int):
        return v
    if isinstance(v, (tuple, list)) and len(v) == 2 and v[0] == v[1]:
        return int(v[0])
    raise ConversionError(module, op, f"{what} {v!r} is not supported (needs equal height and "
                          "width values)")


class _Builder:
    """Turns the fx graph into LNodes, one handler per module type or function."""

    def __init__(self, gm: torch.fx.GraphModule, int8_states: dict[str, dict[str, Any]]):
        self.gm = gm
        self.int8_states = int8_states
        self.nodes: list[LNode] = []
        self.names: dict[torch.fx.Node, str] = {}
        self.taken: set[str] = set()
        self.input = ""
        self.output = ""
        # TF 'same' pads (bnnflow.models.tf_same.TFSamePad) waiting for the conv / max pool
        # they feed: alias → (padded tensor, its shape, padding attr, pad value, module).
        self.tf_pads: dict[str, tuple[str, tuple[int, ...], Any, float, str]] = {}
        self.pending_pad: tuple[Any, float, str] | None = None

    # -- helpers ------------------------------------------------------------------------

    def _unique(self, base: str) -> str:
        name, i = base, 2
        while name in self.taken:
            name, i = f"{base}#{i}", i + 1
        self.taken.add(name)
        return name

    def add(self, base: str, kind: str, inputs: list[str], module: str,
            shape: tuple[int, ...], **attrs: Any) -> str:
        name = self._unique(base)
        self.nodes.append(LNode(name, kind, inputs, module, shape, attrs))
        return name

    def _arg(self, node: torch.fx.Node, a: Any, module: str, op: str,
             allow_pad: bool = False) -> str:
        if not isinstance(a, torch.fx.Node) or a not in self.names:
            raise ConversionError(module, op, f"argument {a!r} is not a tensor of the model")
        name = self.names[a]
        if name in self.tf_pads and not allow_pad:
            raise ConversionError(module, op, f"reads the output of TFSamePad "
                                  f"{self.tf_pads[name][4]!r}, which must feed a Conv2d or "
                                  "MaxPool2d directly")
        return name

    def take_pad(self, module: str, op: str, padding: Any, value: float) -> Any:
        """The padding of a conv / max pool: its own, or the TF 'same' pad that feeds it."""
        if self.pending_pad is None:
            return padding
        pads, pad_value, pad_module = self.pending_pad
        if padding != 0:
            raise ConversionError(module, op, f"is fed by TFSamePad {pad_module!r} and has "
                                  f"padding {padding!r} of its own; it needs padding=0")
        if pad_value != value:
            raise ConversionError(module, op, f"TFSamePad {pad_module!r} pads with "
                                  f"{pad_value!r}, {op} needs {value!r}")
        self.pending_pad = None
        return pads

    # -- driver -------------------------------------------------------------------------

    def build(self) -> LGraph:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if self.input:
                    raise ConversionError("", "input", "the model must take exactly one input")
                self.input = self.add("input", "input", [], "", _shape(node))
                self.names[node] = self.input
            elif node.op == "output":
                out = node.args[0]
                if not isinstance(out, torch.fx.Node):
                    raise ConversionError("", "output", "the model must return one tensor")
                self.output = self.names[out]
            elif node.op == "call_module":
                self.names[node] = self._module(node)
            elif node.op in ("call_function", "call_method"):
                self.names[node] = self._function(node)
            else:
                raise ConversionError(str(node.meta.get("bnnflow_scope", "")), str(node.target),
                                      f"fx node kind {node.op!r} is not supported")
        return LGraph(self.nodes, self.input, self.output)

    # -- functions and methods ----------------------------------------------------------

    def _function(self, node: torch.fx.Node) -> str:
        scope = str(node.meta.get("bnnflow_scope", ""))
        target = node.target
        op = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        where = f"{scope}.{op}" if scope else str(op)
        shape = _shape(node)
        if target in (operator.add, torch.add, operator.iadd) or target in ("add", "add_"):
            args = [a for a in node.args if isinstance(a, torch.fx.Node)]
            if len(args) != 2 or len(node.args) != 2 or node.kwargs:
                raise ConversionError(scope, "add", "only the sum of two tensors is supported")
            ins = [self._arg(node, a, scope, "add") for a in args]
            if _shape(args[0]) != _shape(args[1]):
                raise ConversionError(scope, "add", "broadcasting add is not supported")
            return self.add(f"{scope}.add" if scope else "add", "add", ins, where, shape, op="add")
        if target in (torch.flatten, "flatten"):
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
            if start != 1 or end != -1:
                raise ConversionError(scope, "flatten", "only flatten(x, 1) is supported")
            x = self._arg(node, node.args[0], scope, "flatten")
            return self.add(where, "flatten", [x], where, shape, op="flatten")
        if target in (F.relu, torch.relu, "relu"):
            x = self._arg(node, node.args[0], scope, "relu")
            pwl = piecewise_linear(nn.ReLU(), shape[0])
            return self.add(where, "pwl", [x], where, shape, op="relu", relu=True,
                            **_pwl_attrs(pwl))
        if target in (torch.cat, torch.concat, torch.concatenate):
            return self._cat(node, scope, where, shape)
        raise ConversionError(scope, str(op), "this function or method has no lowering "
                              "(supported: add, cat(xs, 1), flatten(x, 1), relu)")

    def _cat(self, node: torch.fx.Node, scope: str, where: str, shape: tuple[int, ...]) -> str:
        """``torch.cat([a, b, ...], 1)``: concatenation on the channel axis → ``concat``."""
        xs = node.args[0] if node.args else node.kwargs.get("tensors")
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        rank = len(shape) + 1
        if not isinstance(xs, (list, tuple)) or len(xs) < 2:
            raise ConversionError(scope, "cat", "needs a list of at least two tensors")
        if not isinstance(dim, int) or dim % rank != 1:
            raise ConversionError(scope, "cat", f"only concatenation on the channel axis "
                                  f"(dim=1) is supported, got dim={dim!r}")
        ins = [self._arg(node, a, scope, "cat") for a in xs]
        return self.add(f"{scope}.cat" if scope else "cat", "concat", ins, where, shape,
                        op="cat")

    # -- modules ------------------------------------------------------------------------

    def _module(self, node: torch.fx.Node) -> str:
        qual = str(node.target)
        m = self.gm.get_submodule(qual)
        op = type(m).__name__
        if len(node.args) != 1 or node.kwargs:
            raise ConversionError(qual, op, "modules must be called with one tensor")
        x = self._arg(node, node.args[0], qual, op, allow_pad=True)
        shape, in_shape = _shape(node), _shape(node.args[0])
        if x in self.tf_pads:
            x, in_shape, pads, value, pad_module = self.tf_pads[x]
            self.pending_pad = (pads, value, pad_module)
        try:
            for types, handler in _HANDLERS:
                if isinstance(m, types):
                    out = handler(self, m, qual, x, in_shape, shape)
                    if self.pending_pad is not None:
                        raise ConversionError(qual, op, f"is fed by TFSamePad "
                                              f"{self.pending_pad[2]!r}, which must feed a "
                                              "Conv2d or MaxPool2d directly")
                    return out
        finally:
            self.pending_pad = None
        raise ConversionError(qual, op, "unsupported layer type (no lowering in "
                              "docs/conversion.md)")


def _pwl_attrs(pwl: Any) -> dict[str, np.ndarray]:
    return {k: _f64(getattr(pwl, k)) for k in ("t", "kp", "bp", "kn", "bn")}


def _sign_threshold(m: nn.Module, channels: int, qual: str) -> np.ndarray:
    return _f64(m.threshold(channels))


def _check_binary_k(k: int, formula: str, qual: str, op: str) -> None:
    """The engine's binary accumulators are 16-bit: ``K ≤ MAX_BINARY_K`` (numerics §4)."""
    if k > MAX_BINARY_K:
        raise ConversionError(qual, op, f"K = {formula} = {k} exceeds {MAX_BINARY_K}: binary "
                              "layers accumulate in 16 bits (docs/numerics.md §4); use fewer "
                              "input channels, a smaller kernel or more groups")


def _check_binary_weights(m: nn.Module, qual: str, op: str) -> None:
    """A layer in real-weight mode (two-step schedule, step 1) has no binary weights."""
    if getattr(m, "real_weights", False):
        raise ConversionError(qual, op, "the layer is in real-weight mode (step 1 of the "
                              "two-step schedule: binary activations, real weights); convert "
                              "the step-2 model, whose weights are binary")


def _h_binary_conv(b: _Builder, m: bnn.BinaryConv2d, qual: str, x: str,
                   in_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    _check_binary_weights(m, qual, "BinaryConv2d")
    spec = m.deploy_spec(in_shape[1:]) if getattr(m, "tf_same", False) else m.deploy_spec()
    _, cg, kh, kw = spec.weight_sign.shape
    _check_binary_k(kh * kw * cg, f"KH·KW·Cin/groups = {kh}·{kw}·{cg}", qual, "BinaryConv2d")
    if spec.input_quantizer is not None:
        t = _f64(spec.input_threshold)
        x = b.add(f"{qual}.sign", "sign", [x], qual, in_shape, op="BinaryConv2d", t=t)
    return b.add(qual, "bconv", [x], qual, shape, op="BinaryConv2d",
                 weight_sign=spec.weight_sign.numpy().astype(np.int8), alpha=_f64(spec.scale),
                 stride=spec.stride, padding=spec.padding, pad_mode=spec.pad_mode,
                 groups=spec.groups, clip=spec.clip, kernel=spec.kernel_size,
                 has_quantizer=spec.input_quantizer is not None)


def _h_binary_linear(b: _Builder, m: bnn.BinaryLinear, qual: str, x: str,
                     in_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    _check_binary_weights(m, qual, "BinaryLinear")
    spec = m.deploy_spec()
    cin = spec.weight_sign.shape[1]
    _check_binary_k(cin, "in_features", qual, "BinaryLinear")
    if spec.input_quantizer is not None:
        t = _f64(spec.input_threshold)
        x = b.add(f"{qual}.sign", "sign", [x], qual, in_shape, op="BinaryLinear", t=t)
    return b.add(qual, "blinear", [x], qual, shape, op="BinaryLinear",
                 weight_sign=spec.weight_sign.numpy().astype(np.int8), alpha=_f64(spec.scale),
                 clip=spec.clip, has_quantizer=spec.input_quantizer is not None)


def _h_sign(b: _Builder, m: bnn.SignActivation, qual: str, x: str, in_shape: tuple[int, ...],
            shape: tuple[int, ...]) -> str:
    return b.add(qual, "sign", [x], qual, shape, op="SignActivation",
                 t=_sign_threshold(m, shape[0], qual), standalone=True)


def _h_int8point(b: _Builder, m: bnn.Int8Point, qual: str, x: str, in_shape: tuple[int, ...],
                 shape: tuple[int, ...]) -> str:
    state = b.int8_states[qual]  # as the caller's model had it, before shape propagation
    return b.add(qual, "int8point", [x], qual, shape, op="Int8Point", **state)


def _conv_geometry(m: nn.Conv2d, qual: str) -> dict[str, int]:
    op = type(m).__name__
    if m.padding_mode != "zeros":
        raise ConversionError(qual, op, f"padding_mode {m.padding_mode!r} is not supported "
                              "(only 'zeros')")
    if isinstance(m.padding, str):
        raise ConversionError(qual, op, f"padding {m.padding!r} is not supported; give "
                              "symmetric integer padding")
    if _pair(m.dilation, qual, op, "dilation") != 1:
        raise ConversionError(qual, op, "dilated convolutions are not supported")
    kh, kw = m.kernel_size
    return {"stride": _pair(m.stride, qual, op, "stride"),
            "padding": _pair(m.padding, qual, op, "padding"), "groups": m.groups,
            "kernel": (kh, kw)}


def _qweights(m: nn.Module) -> dict[str, Any]:
    """Weights as the model computes them, and the int8 form for the int8 data-flow."""
    if isinstance(m, _QWeight):
        q, sw = m.int8_weight()
        return {"weight": _f64(m.effective_weight()), "qweight": q.numpy().astype(np.int8),
                "sw": _f64(sw), "qmode": m.mode}
    return {"weight": _f64(m.weight), "qweight": None, "sw": None, "qmode": None}


def _h_conv(b: _Builder, m: nn.Conv2d, qual: str, x: str, in_shape: tuple[int, ...],
            shape: tuple[int, ...]) -> str:
    geo = _conv_geometry(m, qual)
    geo["padding"] = b.take_pad(qual, type(m).__name__, geo["padding"], 0.0)
    input_scale = getattr(m, "input_scale", None)
    return b.add(qual, "conv", [x], qual, shape, op=type(m).__name__, **geo, **_qweights(m),
                 bias=None if m.bias is None else _f64(m.bias),
                 input_scale=None if input_scale is None else _f64(input_scale))


def _h_linear(b: _Builder, m: nn.Linear, qual: str, x: str, in_shape: tuple[int, ...],
              shape: tuple[int, ...]) -> str:
    return b.add(qual, "linear", [x], qual, shape, op=type(m).__name__, **_qweights(m),
                 bias=None if m.bias is None else _f64(m.bias))


def _h_bn(b: _Builder, m: nn.modules.batchnorm._BatchNorm, qual: str, x: str,
          in_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    op = type(m).__name__
    if m.running_mean is None or m.running_var is None:
        raise ConversionError(qual, op, "BatchNorm without running statistics "
                              "(track_running_stats=False) cannot be folded")
    sigma = np.sqrt(_f64(m.running_var) + float(m.eps))
    gamma = _f64(m.weight) if m.weight is not None else np.ones_like(sigma)
    beta = _f64(m.bias) if m.bias is not None else np.zeros_like(sigma)
    a = gamma / sigma
    return b.add(qual, "affine", [x], qual, shape, op=op, a=a,
                 b=beta - a * _f64(m.running_mean))


def _h_pwl(b: _Builder, m: nn.Module, qual: str, x: str, in_shape: tuple[int, ...],
           shape: tuple[int, ...]) -> str:
    pwl = piecewise_linear(m, shape[0])
    return b.add(qual, "pwl", [x], qual, shape, op=type(m).__name__,
                 relu=isinstance(m, nn.ReLU), **_pwl_attrs(pwl))


def _pool_geometry(m: nn.Module, qual: str, in_shape: tuple[int, ...]) -> dict[str, int]:
    op = type(m).__name__
    if _pair(getattr(m, "dilation", 1), qual, op, "dilation") != 1:
        raise ConversionError(qual, op, "dilated pooling is not supported")
    k = _pair(m.kernel_size, qual, op, "kernel_size")
    s = _pair(m.stride if m.stride is not None else k, qual, op, "stride")
    p = _pair(m.padding, qual, op, "padding")
    # ceil_mode only matters where the last window would be partial (e.g. TF 'same' average
    # pools of tf_padding models: not on even inputs).
    if getattr(m, "ceil_mode", False) and any((n + 2 * p - k) % s for n in in_shape[1:]):
        raise ConversionError(qual, op, f"ceil_mode=True on a {in_shape[1]}x{in_shape[2]} "
                              "input (a partial last window) is not supported")
    return {"k": k, "s": s, "p": p}


def _h_maxpool(b: _Builder, m: nn.MaxPool2d, qual: str, x: str, in_shape: tuple[int, ...],
               shape: tuple[int, ...]) -> str:
    geo = _pool_geometry(m, qual, in_shape)
    geo["p"] = b.take_pad(qual, "MaxPool2d", geo["p"], float("-inf"))
    return b.add(qual, "maxpool", [x], qual, shape, op="MaxPool2d", **geo)


def _h_avgpool(b: _Builder, m: nn.AvgPool2d, qual: str, x: str, in_shape: tuple[int, ...],
               shape: tuple[int, ...]) -> str:
    geo = _pool_geometry(m, qual, in_shape)
    if geo["p"] and not m.count_include_pad:
        raise ConversionError(qual, "AvgPool2d", "count_include_pad=False with padding is not "
                              "supported (the engine divides by k*k)")
    if m.divisor_override is not None:
        raise ConversionError(qual, "AvgPool2d", "divisor_override is not supported")
    return b.add(qual, "avgpool", [x], qual, shape, op="AvgPool2d", **geo)


def _h_gap(b: _Builder, m: nn.AdaptiveAvgPool2d, qual: str, x: str, in_shape: tuple[int, ...],
           shape: tuple[int, ...]) -> str:
    if shape[1:] != (1, 1):
        raise ConversionError(qual, "AdaptiveAvgPool2d", f"output size {m.output_size!r} is not "
                              "supported (only 1: global average pooling)")
    return b.add(qual, "gap", [x], qual, shape, op="AdaptiveAvgPool2d")


def _h_flatten(b: _Builder, m: nn.Flatten, qual: str, x: str, in_shape: tuple[int, ...],
               shape: tuple[int, ...]) -> str:
    if m.start_dim != 1 or m.end_dim != -1:
        raise ConversionError(qual, "Flatten", "only Flatten(1, -1) is supported")
    return b.add(qual, "flatten", [x], qual, shape, op="Flatten")


def _h_normalize(b: _Builder, m: bnn.InputNormalize, qual: str, x: str,
                 in_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    return b.add(qual, "normalize", [x], qual, shape, op="InputNormalize",
                 zp=m.zero_point.numpy().astype(np.int64), a=_f64(m.scale))


def _h_shuffle(b: _Builder, m: bnn.ChannelShuffle, qual: str, x: str,
               in_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    return b.add(qual, "channel_shuffle", [x], qual, shape, op="ChannelShuffle",
                 groups=int(m.groups))


def _h_identity(b: _Builder, m: nn.Module, qual: str, x: str, in_shape: tuple[int, ...],
                shape: tuple[int, ...]) -> str:
    return b.add(qual, "identity", [x], qual, shape, op=type(m).__name__)


def _h_tf_same_pad(b: _Builder, m: TFSamePad, qual: str, x: str, in_shape: tuple[int, ...],
                   shape: tuple[int, ...]) -> str:
    """No node: the pad waits (under an alias) for the conv / max pool it feeds."""
    alias = b._unique(qual)
    b.tf_pads[alias] = (x, in_shape, m.pads(in_shape[1], in_shape[2]), float(m.value), qual)
    return alias


_HANDLERS: list[tuple[type | tuple[type, ...], Callable[..., str]]] = [
    (bnn.BinaryConv2d, _h_binary_conv),
    (bnn.BinaryLinear, _h_binary_linear),
    (bnn.SignActivation, _h_sign),
    (bnn.Int8Point, _h_int8point),
    (bnn.InputNormalize, _h_normalize),
    (bnn.ChannelShuffle, _h_shuffle),
    (nn.Conv2d, _h_conv),
    (nn.Linear, _h_linear),
    ((nn.BatchNorm2d, nn.BatchNorm1d), _h_bn),
    ((nn.ReLU, nn.PReLU, bnn.RPReLU, bnn.TwoSidedPReLU), _h_pwl),
    (nn.MaxPool2d, _h_maxpool),
    (nn.AvgPool2d, _h_avgpool),
    (nn.AdaptiveAvgPool2d, _h_gap),
    (nn.Flatten, _h_flatten),
    ((nn.Identity, nn.Dropout), _h_identity),
    (TFSamePad, _h_tf_same_pad),
]
