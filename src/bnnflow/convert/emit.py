"""Emit: write the lowered :class:`LGraph` as ops of the catalogue with a GraphBuilder.

Each node becomes one op named after it (``blocks.0.conv``), or two when the catalogue needs
a second step (``<name>:requant32``, ``<name>:dequant``, ``<name>:requant``). The params were
computed by the passes; this module only places them. The int8 data-flow takes uint8 NHWC
pixels; the float data-flow takes float32 NHWC pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnnflow.convert.lgraph import LGraph, LNode
from bnnflow.graph import Graph, InputSpec
from bnnflow.graph.builder import GraphBuilder

INPUT_NAME = "image"
F32 = np.float32


def input_spec(graph: LGraph, dataflow: str) -> InputSpec:
    """uint8 (int8 data-flow) or float32 NHWC pixels; the normalisation is recorded."""
    node = graph.node(graph.input)
    shape = node.shape
    nhwc = (-1, shape[1], shape[2], shape[0]) if len(shape) == 3 else (-1, *shape)
    norm = next((n for n in graph.consumers(graph.input) if n.kind == "normalize"), None)
    normalisation = None
    if norm is not None:
        normalisation = {"zero_point": [int(v) for v in norm.attrs["zp"]],
                         "scale": [float(v) for v in norm.attrs["a"]],
                         "formula": "(x - zero_point) * scale"}
    dtype = "uint8" if dataflow == "int8" else "float32"
    what = "raw pixel values 0..255" if norm is not None else "model input values"
    return InputSpec(INPUT_NAME, nhwc, dtype, normalisation, None,
                     f"NHWC {dtype} {what}")


class _Emitter:
    def __init__(self, graph: LGraph, dataflow: str):
        self.g = graph
        self.df = dataflow
        self.b = GraphBuilder(input_spec(graph, dataflow), dataflow)
        self.out: dict[str, str] = {graph.input: self.b.input}
        #: op name -> the node it was emitted for (names the module in errors).
        self.origin: dict[str, LNode] = {}
        self._node: LNode | None = None

    def src(self, node: LNode, i: int = 0) -> str:
        return self.out[node.inputs[i]]

    def add(self, op: str, name: str, inputs: list[str], attrs: dict[str, Any] | None = None,
            **params: np.ndarray) -> str:
        if self._node is not None:
            self.origin[name] = self._node
        return self.b.add(op, name, inputs, attrs, **params)

    # -- per kind -------------------------------------------------------------------------

    def normalize(self, n: LNode) -> str:
        if self.df == "int8":
            return self.src(n)  # folded into the stem conv (zero point + weights)
        a, zp = n.attrs["a"], n.attrs["zp"]
        return self.add("scale_bias", n.name, [self.src(n)], scale=a.astype(F32),
                        bias=(-zp * a).astype(F32))

    def conv(self, n: LNode) -> str:
        at = n.attrs
        geo = {"stride": at["stride"], "padding": at["padding"]}
        if self.df == "float":
            return self.add("conv2d_f32", n.name, [self.src(n)], geo, weights=at["wf"],
                            bias=at["out_b"].astype(F32))
        op = "dwconv2d_int8" if at["dw"] else "conv2d_int8"
        cout = at["w8"].shape[0]
        acc = self.add(op, n.name, [self.src(n)], geo, weights=at["w8"],
                       bias=np.zeros(cout, np.int32), zp=at["zp"])
        return self.add("requant32", f"{n.name}:requant32", [acc], **at["fx2"])

    def linear(self, n: LNode) -> str:
        at = n.attrs
        if self.df == "float":
            return self.add("dense_f32", n.name, [self.src(n)], weights=at["wf"],
                            bias=at["out_b"].astype(F32))
        acc = self.add("dense_int8", n.name, [self.src(n)], weights=at["w8"],
                       bias=np.zeros(at["w8"].shape[0], np.int32))
        second = "dequant" if self.g.is_output(n.name) else "requant32"
        return self.add(second, f"{n.name}:{second}", [acc], **at["fx2"])

    def _epilogue(self, n: LNode) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        at = n.attrs
        kind = at.get("epilogue") or "float"
        lo = at.get("clamp_lo")
        hi = None
        if at["clip"] and kind in ("float", "int32"):
            lo, hi = max(-128, lo if lo is not None else -128), 127
        attrs: dict[str, Any] = {"epilogue": kind, "clamp_lo": lo, "clamp_hi": hi}
        if kind == "packed":
            attrs.update(clamp_lo=None, clamp_hi=None, out_groups=at["out_groups"])
            return attrs, {"T": at["T"].astype(np.int32)}
        if kind == "int8":
            return attrs, dict(at["fx"])
        if kind == "float":
            return attrs, {"scale": at["out_a"].astype(F32), "bias": at["out_b"].astype(F32)}
        return attrs, {}

    def binary(self, n: LNode) -> str:
        at = n.attrs
        attrs, params = self._epilogue(n)
        if n.kind == "bconv":
            pad = 0 if at["pad_mode"] == "valid" else at["padding"]
            attrs.update(stride=at["stride"], padding=pad, pad_mode=at["pad_mode"],
                         groups=at["groups"])
        op = "bconv" if n.kind == "bconv" else "bdense"
        y = self.add(op, n.name, [self.src(n)], attrs, weights=at["packed"], **params)
        if attrs["epilogue"] == "int32":
            y = self.add("dequant", f"{n.name}:dequant", [y], **at["fx2"])
        return y

    def sign(self, n: LNode) -> str:
        t = n.attrs["t_q"] if self.df == "int8" else n.attrs["t"].astype(F32)
        return self.add("pack", n.name, [self.src(n)], {"groups": n.attrs["groups"]}, t=t)

    def affine(self, n: LNode) -> str:
        if self.df == "int8":
            return self.add("requant", n.name, [self.src(n)], **n.attrs["fx"])
        return self.add("scale_bias", n.name, [self.src(n)], scale=n.attrs["a"].astype(F32),
                        bias=n.attrs["b"].astype(F32))

    def add_(self, n: LNode) -> str:
        ins = [self.src(n, 0), self.src(n, 1)]
        if self.df == "int8":
            return self.add("add", n.name, ins, **n.attrs["fx"])
        return self.add("add_f32", n.name, ins)

    def pwl(self, n: LNode) -> str:
        if self.df == "int8":
            return self.add("pwl", n.name, [self.src(n)], **n.attrs["fx"])
        return self.add("pwl_f32", n.name, [self.src(n)],
                        **{k: n.attrs[k].astype(F32) for k in ("t", "kp", "bp", "kn", "bn")})

    def pool(self, n: LNode) -> str:
        at = n.attrs
        geo = {"kernel": at["k"], "stride": at["s"], "padding": at["p"]}
        if self.df == "float":
            op = "maxpool_f32" if n.kind == "maxpool" else "avgpool_f32"
            return self.add(op, n.name, [self.src(n)], geo)
        op = "maxpool_int8" if n.kind == "maxpool" else "sumpool_int8"
        y = self.add(op, n.name, [self.src(n)], geo)
        if "fx2" in at:
            second = "requant" if n.kind == "maxpool" else "requant32"
            y = self.add(second, f"{n.name}:{second}", [y], **at["fx2"])
        return y

    def maxpool_packed(self, n: LNode) -> str:
        at = n.attrs
        return self.add("maxpool_packed", n.name, [self.src(n)],
                        {"kernel": at["k"], "stride": at["s"], "padding": at["p"]})

    def gap(self, n: LNode) -> str:
        if self.df == "float":
            return self.add("global_avgpool_f32", n.name, [self.src(n)])
        y = self.add("global_sumpool_int8", n.name, [self.src(n)])
        return self.add("requant32", f"{n.name}:requant32", [y], **n.attrs["fx2"])

    def flatten(self, n: LNode) -> str:
        if self.g.node(n.inputs[0]).kind == "gap":
            return self.src(n)  # global pools already give [N, C]
        return self.add("flatten", n.name, [self.src(n)])

    def requant(self, n: LNode) -> str:
        return self.add("requant", n.name, [self.src(n)], **n.attrs["fx"])

    def concat(self, n: LNode) -> str:
        return self.add("concat", n.name, [self.src(n, i) for i in range(len(n.inputs))])

    def channel_shuffle(self, n: LNode) -> str:
        return self.add("channel_shuffle", n.name, [self.src(n)], {"groups": n.attrs["groups"]})

    def emit(self, n: LNode) -> None:
        handler = {"normalize": self.normalize, "conv": self.conv, "linear": self.linear,
                   "bconv": self.binary, "blinear": self.binary, "sign": self.sign,
                   "affine": self.affine, "add": self.add_, "pwl": self.pwl,
                   "maxpool": self.pool, "avgpool": self.pool,
                   "maxpool_packed": self.maxpool_packed, "gap": self.gap,
                   "flatten": self.flatten, "requant": self.requant, "concat": self.concat,
                   "channel_shuffle": self.channel_shuffle}.get(n.kind)
        if handler is None:
            raise n.error(f"no {self.df} lowering for {n.kind!r}")
        self._node = n
        self.out[n.name] = handler(n)


def emit(graph: LGraph, dataflow: str, class_names: list[str] | None,
         metadata: dict[str, Any]) -> tuple[Graph, dict[str, np.ndarray], dict[str, LNode]]:
    """The catalogue graph, its param tensors, and the node each op was emitted for, for a
    fully lowered :class:`LGraph`."""
    em = _Emitter(graph, dataflow)
    for node in graph.nodes:
        if node.kind != "input":
            em.emit(node)
    out = graph.node(graph.output)
    if len(out.shape) != 1:
        raise out.error("the model must return logits [N, classes] (end with a Linear)")
    if dataflow == "int8":
        metadata = {**metadata, "int8_points": {
            n.attrs["S_from"]: em.out[n.name] for n in graph.nodes if n.attrs.get("S_from")}}
    built, tensors = em.b.build(em.out[graph.output], out.shape[0], class_names, metadata)
    return built, tensors, em.origin
