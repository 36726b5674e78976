"""The exact int8 forward of a frozen stage-2 model: the engine's integers, in torch.

After :func:`~bnnflow.nn.freeze_int8`, a stage-2 model in **eval** mode no longer rescales in
float: its forward converts itself (once per set of weights, cached) with
:func:`bnnflow.convert.convert` to the ``int8`` data-flow graph and runs that graph's ops on
integer torch tensors (int64, on the input's device) with exactly the formulas of
docs/numerics.md — the same ``M``, ``s``, ``B`` (the converter's fixed-point pass is the one
place they are computed), round-half-up shifts, saturation, int32 wrap-around, the float32
``dequant`` in its fixed order. So ``model.eval()(x)`` is bit-identical to ``bnnflow run`` (the
engine) and to the numpy reference on every input: the trained model *is* the spec.

Training mode is unchanged: the fake-quant forward with straight-through gradients
(:mod:`bnnflow.nn.int8`). The exact forward has no gradients (integer ops). A frozen model the
int8 data-flow cannot hold (``convert`` raises ``ConversionError``) keeps the fake-quant eval
forward, with a :class:`NotExactWarning` giving the reason.

Input: the float NCHW pixels the model takes are quantised to the graph's input dtype exactly
as ``bnnflow run`` does (``clip(round_half_even(x), 0, 255)`` to uint8), then laid out NHWC.

Binary tensors are held as unpacked bits (bool ``[..., C]``, True = −1) rather than uint32
words: the same values, without the word layout. Every sum is exact: binary and int8
convolutions run as float64 convolutions of integers whose partial sums stay far below 2^53.
"""

from __future__ import annotations

import copy
import math
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bnnflow.graph.padding import pads

Value = torch.Tensor
_I32 = 2**32


def _wrap32(v: Value) -> Value:
    """int64 → the int32 value modulo 2^32 (the engine's int32 accumulators), kept int64."""
    return torch.remainder(v + 2**31, _I32) - 2**31


def rshift_round(v: Value, s: Value) -> Value:
    """``(v + r) >> s``, ``r = 2^(s−1)`` for ``s > 0`` else 0; ``>>`` arithmetic (int64)."""
    r = torch.where(s > 0, torch.bitwise_left_shift(torch.ones_like(s), (s - 1).clamp_min(0)),
                    torch.zeros_like(s))
    return torch.bitwise_right_shift(v + r, s)


def saturate(v: Value) -> Value:
    """Clamp to [−128, 127] (int8 values, kept int64)."""
    return v.clamp(-128, 127)


def requant(x: Value, M: Value, B: Value, s: Value) -> Value:
    """``saturate(rshift_round(M[c]·x + B[c], s[c]))`` (requant and requant32)."""
    return saturate(rshift_round(M * x + B, s))


def dequant(x: Value, scale: Value, bias: Value) -> Value:
    """``f32(f32(f32(x)·scale[c]) + bias[c])``: three float32 roundings, no fused multiply-add."""
    prod = torch.mul(x.to(torch.float32), scale)
    return torch.add(prod, bias)


def _nchw(x: Value) -> Value:
    return x.permute(0, 3, 1, 2)


def _nhwc(x: Value) -> Value:
    return x.permute(0, 2, 3, 1).contiguous()


def _exact(x: Value) -> Value:
    """float64 results of integer sums back to int64 (exact: every sum is an integer)."""
    return torch.round(x).to(torch.int64)


def _pm1(bits: Value) -> Value:
    """Bits (True = −1) to ±1 float64."""
    return 1.0 - 2.0 * bits.to(torch.float64)


def _epilogue(d: Value, attrs: Mapping[str, Any], p: Mapping[str, Value]) -> Value:
    """The fused bconv/bdense epilogue (docs/numerics.md §4) on the raw sums ``d`` (int64)."""
    lo, hi = attrs.get("clamp_lo"), attrs.get("clamp_hi")
    if lo is not None or hi is not None:
        d = d.clamp(min=lo, max=hi)
    kind = attrs["epilogue"]
    if kind == "int32":
        return d
    if kind == "int8":
        return requant(saturate(d), p["M"], p["B"], p["s"])
    assert kind == "packed", kind  # IntegerGraph refuses the float epilogue up front
    return d < p["T"]


@dataclass
class _Ctx:
    """One op's view: attrs, params (torch, on the device) and its input channel counts."""

    attrs: Mapping[str, Any]
    params: Mapping[str, Value]
    in_channels: list[int]


def _bconv(x: list[Value], c: _Ctx) -> Value:
    a, w = c.attrs, c.params["weights"]
    xa = _nchw(_pm1(x[0]))
    if a["pad_mode"] != "valid" and any(pads(a)):
        xa = F.pad(xa, _torch_pads(a), value=1.0 if a["pad_mode"] == "one" else 0.0)
    d = F.conv2d(xa, w, stride=a["stride"], groups=a["groups"])
    return _epilogue(_exact(_nhwc(d)), a, c.params)


def _bdense(x: list[Value], c: _Ctx) -> Value:
    d = _pm1(x[0]) @ c.params["weights"].T
    return _epilogue(_exact(d), c.attrs, c.params)


def _torch_pads(a: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """``F.pad``'s (left, right, top, bottom) of a ``padding`` attr."""
    top, left, bottom, right = pads(a)
    return (left, right, top, bottom)


def _window_pool(x: Value, a: Mapping[str, Any], kind: str) -> Value:
    k, st = a["kernel"], a["stride"]
    xf = _nchw(x.to(torch.float64))
    # padded taps are ignored by the max (−inf) and add 0 to the sum
    xf = F.pad(xf, _torch_pads(a), value=-math.inf if kind == "max" else 0.0)
    if kind == "max":
        return _nhwc(F.max_pool2d(xf, k, st))
    return _nhwc(F.avg_pool2d(xf, k, st, divisor_override=1))  # sum over the taps inside


def _maxpool_packed(x: list[Value], c: _Ctx) -> Value:
    # max of ±1 over the taps inside = +1 unless every tap is −1 (bit AND).
    y = _window_pool(_pm1(x[0]), c.attrs, "max")
    return y < 0


def _conv_int8(x: list[Value], c: _Ctx, depthwise: bool) -> Value:
    p, a = c.params, c.attrs
    d = _nchw((x[0] - p["zp"]).to(torch.float64))
    groups = d.shape[1] if depthwise else 1
    d = F.pad(d, _torch_pads(a))  # the padded pixel is zp: d = x − zp is 0 there
    acc = F.conv2d(d, p["weights"], stride=a["stride"], groups=groups)
    return _wrap32(_exact(_nhwc(acc)) + p["bias"])


def _table() -> dict[str, Callable[[list[Value], _Ctx], Value]]:
    def window(kind: str) -> Callable[[list[Value], _Ctx], Value]:
        def fn(x: list[Value], c: _Ctx) -> Value:
            y = _exact(_window_pool(x[0], c.attrs, kind))
            return y if kind == "max" else _wrap32(y)
        return fn

    def add(x: list[Value], c: _Ctx) -> Value:
        p = c.params
        return saturate(rshift_round(p["Ma"] * x[0] + p["Mb"] * x[1] + p["B"], p["s"]))

    def pwl(x: list[Value], c: _Ctx) -> Value:
        p, q = c.params, x[0]
        v = torch.where(q >= p["t"], p["Mp"] * q + p["Bp"], p["Mn"] * q + p["Bn"])
        return saturate(rshift_round(v, p["s"]))

    return {
        "pack": lambda x, c: x[0] < c.params["t"],
        "bconv": _bconv,
        "bdense": _bdense,
        "maxpool_packed": _maxpool_packed,
        "requant": lambda x, c: requant(x[0], c.params["M"], c.params["B"], c.params["s"]),
        "requant32": lambda x, c: requant(x[0], c.params["M"], c.params["B"], c.params["s"]),
        "add": add,
        "pwl": pwl,
        "maxpool_int8": window("max"),
        "sumpool_int8": window("sum"),
        "global_sumpool_int8": lambda x, c: _wrap32(x[0].sum(dim=(1, 2))),
        "conv2d_int8": lambda x, c: _conv_int8(x, c, depthwise=False),
        "dwconv2d_int8": lambda x, c: _conv_int8(x, c, depthwise=True),
        "dense_int8": lambda x, c: _wrap32(
            _exact(x[0].to(torch.float64) @ c.params["weights"].T) + c.params["bias"]),
        "concat": lambda x, c: torch.cat(x, dim=-1),
        "channel_shuffle": lambda x, c: x[0].unflatten(-1, (c.attrs["groups"], -1))
        .transpose(-1, -2).flatten(-2),
        "dequant": lambda x, c: dequant(x[0], c.params["scale"], c.params["bias"]),
        "flatten": lambda x, c: x[0].reshape(x[0].shape[0], -1),
    }


TABLE = _table()
_FLOAT_WEIGHTS = ("conv2d_int8", "dwconv2d_int8", "dense_int8")


def _param(op: Any, role: str, arr: np.ndarray, cin: list[int], device: torch.device) -> Value:
    """An IR param as the torch executor uses it (unpacked ±1 binary weights, float64 conv
    weights in torch's layout, float32 dequant params, everything else int64)."""
    from bnnflow.reference.pack import to_pm1, unpack_bits

    if role == "weights" and op.type in ("bconv", "bdense"):
        cg = cin[0] // op.attrs.get("groups", 1)
        w = to_pm1(unpack_bits(arr, cg)).astype(np.float64)  # [Cout, (KH, KW,) Cg]
        t = torch.from_numpy(w)
        return (t.permute(0, 3, 1, 2) if t.dim() == 4 else t).contiguous().to(device)
    if role == "weights" and op.type in _FLOAT_WEIGHTS:
        t = torch.from_numpy(arr.astype(np.float64))
        if op.type == "conv2d_int8":
            t = t.permute(0, 3, 1, 2)
        elif op.type == "dwconv2d_int8":
            t = t.unsqueeze(1)  # [C·m, 1, KH, KW]: torch groups=C is the channel multiplier
        return t.contiguous().to(device)
    if op.type == "dequant":
        return torch.from_numpy(arr.astype(np.float32)).to(device)
    return torch.from_numpy(arr.astype(np.int64)).to(device)


#: bconv / bdense epilogues of the int8 data-flow (the float one belongs to the float data-flow).
INT_EPILOGUES = ("int32", "int8", "packed")


class IntegerGraph:
    """A converted ``int8`` graph, ready to run on torch tensors of one device."""

    def __init__(self, graph: Any, tensors: Mapping[str, np.ndarray],
                 device: torch.device | str = "cpu", until: str | None = None) -> None:
        """``until``: stop after the op that writes this tensor (run a prefix of the graph).

        Raises:
            FormatError: an invalid graph.
            ValueError: an op outside the int8 data-flow (a float op type, or a bconv /
                bdense with the float epilogue), named with its op.
        """
        from bnnflow.graph import validate

        self.graph = graph
        self.infos = validate(graph, tensors)
        self.device = torch.device(device)
        self.steps: list[tuple[Any, _Ctx]] = []
        for op in graph.ops:
            if op.type not in TABLE:
                raise ValueError(f"op {op.name!r}: the exact int8 forward has no torch form "
                                 f"of op type {op.type!r} (not an int8 data-flow op)")
            if op.attrs.get("epilogue", "int8") not in INT_EPILOGUES:
                raise ValueError(f"op {op.name!r} ({op.type}): epilogue "
                                 f"{op.attrs['epilogue']!r} is not part of the int8 data-flow")
            cin = [self.infos[t].logical_channels for t in op.inputs]
            params = {r: _param(op, r, np.asarray(tensors[n]), cin, self.device)
                      for r, n in op.params.items()}
            self.steps.append((op, _Ctx(op.attrs, params, cin)))
            if op.outputs[0] == until:
                break

    def input_from_pixels(self, x: Value) -> Value:
        """NCHW float pixels → the graph's NHWC input (uint8/int8 as ``bnnflow run`` rounds)."""
        spec = self.graph.input_spec
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        if spec.dtype == "float32":
            return x.to(torch.float32)
        lo, hi = (0, 255) if spec.dtype == "uint8" else (-128, 127)
        return torch.round(x.to(torch.float32)).clamp(lo, hi).to(torch.int64)

    def run_all(self, x: Value) -> dict[str, Value]:
        """Every activation of the graph for NHWC graph input ``x`` (int64 integers, bool
        bits for packed tensors, float32 logits)."""
        values = {self.graph.input_spec.name: x.to(self.device)}
        for op, ctx in self.steps:
            values[op.outputs[0]] = TABLE[op.type]([values[t] for t in op.inputs], ctx)
        return values

    def run(self, x: Value) -> Value:
        """float32 logits for NHWC graph input ``x``."""
        return self.run_all(x)[self.graph.output_spec.name]


# ---------------------------------------------------------------------------------------
# The model's eval forward
# ---------------------------------------------------------------------------------------

@dataclass
class _Entry:
    """A conversion of one model: for which inputs and modes (``key``), from which values of
    its parameters and buffers (``snapshot``), and the result (``None``: not convertible)."""

    key: tuple[Any, ...]
    snapshot: list[Value]
    graph: IntegerGraph | None

    def matches(self, model: nn.Module, key: tuple[Any, ...]) -> bool:
        state = _state(model)
        return key == self.key and len(state) == len(self.snapshot) and \
            all(torch.equal(a, b) for a, b in zip(state, self.snapshot, strict=True))


_CACHE: weakref.WeakKeyDictionary[nn.Module, _Entry] = weakref.WeakKeyDictionary()


class NotExactWarning(UserWarning):
    """A frozen model the int8 data-flow cannot hold: its eval forward stays fake-quant."""


def _int8_points(model: nn.Module) -> list[nn.Module]:
    from bnnflow.nn.int8 import Int8Point

    return [m for m in model.modules() if isinstance(m, Int8Point)]


def is_exact(model: nn.Module) -> bool:
    """Whether ``model``'s eval forward is the exact integer one now: :func:`install` ran,
    it has Int8Points and every one of them is frozen."""
    points = _int8_points(model)
    return getattr(model, "_bnnflow_exact", False) and bool(points) and \
        all(p.mode == "frozen" for p in points)


def _state(model: nn.Module) -> list[Value]:
    return [t.detach() for t in (*model.parameters(), *model.buffers())]


def _key(model: nn.Module, x: Value) -> tuple[Any, ...]:
    modes = tuple(p.mode for p in _int8_points(model))
    return (tuple(x.shape[1:]), str(x.device), modes)


def _lookup(model: nn.Module, x: Value) -> tuple[tuple[Any, ...], _Entry | None]:
    key = _key(model, x)
    hit = _CACHE.get(model)
    return key, hit if hit is not None and hit.matches(model, key) else None


def _remember(model: nn.Module, key: tuple[Any, ...], ig: IntegerGraph | None) -> None:
    _CACHE[model] = _Entry(key, [t.clone() for t in _state(model)], ig)


def integer_graph(model: nn.Module, x: Value) -> IntegerGraph:
    """The converted graph of ``model`` for inputs shaped like ``x``, cached while every
    parameter and buffer keeps its values (compared with a snapshot, so any change counts:
    an optimizer step, ``load_state_dict``, a write through ``.data``) and every Int8Point
    its mode.

    Raises:
        ConversionError: the int8 data-flow cannot hold the model (as ``convert`` says).
    """
    from bnnflow.convert import convert

    key, hit = _lookup(model, x)
    if hit is not None and hit.graph is not None:
        return hit.graph
    _CACHE.pop(model, None)
    work = copy.deepcopy(model).cpu().eval()
    graph, tensors = convert(work, x[:1].detach().cpu().to(torch.float32), "int8")
    ig = IntegerGraph(graph, tensors, x.device)
    _remember(model, key, ig)
    return ig


@torch.compiler.disable
def exact_forward(model: nn.Module, x: Value) -> Value | None:
    """The engine's logits for NCHW float pixels ``x`` (no gradient), or ``None`` when the int8
    data-flow cannot hold the model (a :class:`NotExactWarning` says why, once per state).

    Runs outside autocast (mixed precision would round the float32 ``dequant``) and outside
    ``torch.compile`` (eager integer ops)."""
    from bnnflow.convert import ConversionError

    key, hit = _lookup(model, x)
    if hit is not None and hit.graph is None:
        return None
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        try:
            ig = integer_graph(model, x)
        except ConversionError as err:
            _remember(model, key, None)
            warnings.warn(f"{type(model).__name__}: the int8 data-flow cannot hold this frozen "
                          f"model, so its eval forward stays fake-quant (float rescaling, "
                          f"not the engine's integers): {err}", NotExactWarning, stacklevel=3)
            return None
        return ig.run(ig.input_from_pixels(x))


class _ExactForward:
    """``model.forward`` once installed: the exact forward in eval mode when every Int8Point is
    frozen, the class's own (fake-quant) forward otherwise. A plain object (not a bound
    method), so the model still deep-copies and pickles with it."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        model = self.model
        if not model.training and not kwargs and len(args) == 1 and is_exact(model):
            y = exact_forward(model, args[0])
            if y is not None:
                return y
        return type(model).forward(model, *args, **kwargs)


def install(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Make ``model``'s eval forward exact once every Int8Point is frozen (``enabled``), or
    restore the fake-quant eval forward (``enabled=False``). :func:`freeze_int8` calls this.

    The class's own ``forward`` stays the fake-quant one (training, ``torch.fx`` tracing and
    the converter use it); the switch is an instance attribute, not saved in checkpoints, so
    re-run :func:`freeze_int8` after loading a stage-2 state dict (``bnnflow``'s checkpoint
    loader does).
    """
    if enabled:
        model._bnnflow_exact = True  # type: ignore[assignment]
        model.forward = _ExactForward(model)  # type: ignore[method-assign]
    else:
        model.__dict__.pop("forward", None)
        model._bnnflow_exact = False  # type: ignore[assignment]
        _CACHE.pop(model, None)
    return model
