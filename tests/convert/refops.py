"""Run a converted graph on the reference, op by op, with optional teacher forcing.

Op types are taken from :func:`bnnflow.reference.interpreter.reference_table`; glue op types
it does not dispatch yet are adapted here onto :mod:`bnnflow.reference.int8_ops` and
:mod:`bnnflow.reference.float_ops` (the same per-op reference functions, only the argument
plumbing differs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from bnnflow.graph import Graph, Op, TensorInfo, validate
from bnnflow.reference import float_ops, int8_ops
from bnnflow.reference import interpreter as ref_interp

Fn = Callable[[Op, list, Mapping, list], np.ndarray]


def _pool(fn: Callable) -> Fn:
    return lambda op, ins, p, i: fn(ins[0], op.attrs["kernel"], op.attrs["stride"],
                                    op.attrs["padding"])


def _conv(fn: Callable, zp: bool) -> Fn:
    def run(op: Op, ins: list, p: Mapping, i: list) -> np.ndarray:
        a = op.attrs
        extra = (p["zp"],) if zp else ()
        return fn(ins[0], p["weights"], p["bias"], *extra, stride=a["stride"],
                  padding=a["padding"])
    return run


GLUE: dict[str, Fn] = {
    "requant": lambda op, ins, p, i: int8_ops.requant(ins[0], p["M"], p["B"], p["s"]),
    "requant32": lambda op, ins, p, i: int8_ops.requant32(ins[0], p["M"], p["B"], p["s"]),
    "add": lambda op, ins, p, i: int8_ops.add_int8(ins[0], ins[1], p["Ma"], p["Mb"], p["B"],
                                                   p["s"]),
    "pwl": lambda op, ins, p, i: int8_ops.pwl_int8(ins[0], p["t"], p["Mp"], p["Bp"], p["Mn"],
                                                   p["Bn"], p["s"]),
    "maxpool_int8": _pool(int8_ops.maxpool_int8),
    "sumpool_int8": _pool(int8_ops.sumpool_int8),
    "global_sumpool_int8": lambda op, ins, p, i: int8_ops.global_sumpool_int8(ins[0]),
    "conv2d_int8": _conv(int8_ops.conv2d_int8, True),
    "dwconv2d_int8": _conv(int8_ops.dwconv2d_int8, True),
    "dense_int8": lambda op, ins, p, i: int8_ops.dense_int8(ins[0], p["weights"], p["bias"]),
    "dequant": lambda op, ins, p, i: float_ops.dequant(ins[0], p["scale"], p["bias"]),
    "scale_bias": lambda op, ins, p, i: float_ops.scale_bias(ins[0], p["scale"], p["bias"]),
    "add_f32": lambda op, ins, p, i: float_ops.add_f32(ins[0], ins[1]),
    "pwl_f32": lambda op, ins, p, i: float_ops.pwl_f32(ins[0], p["t"], p["kp"], p["bp"],
                                                       p["kn"], p["bn"]),
    "conv2d_f32": _conv(float_ops.conv2d_f32, False),
    "dense_f32": lambda op, ins, p, i: float_ops.dense_f32(ins[0], p["weights"], p["bias"]),
    "maxpool_f32": _pool(float_ops.maxpool_f32),
    "avgpool_f32": _pool(float_ops.avgpool_f32),
    "global_avgpool_f32": lambda op, ins, p, i: float_ops.global_avgpool_f32(ins[0]),
    "flatten": lambda op, ins, p, i: ins[0].reshape(ins[0].shape[0], -1),
}


def table() -> dict[str, Fn]:
    """The reference interpreter's table, completed with the glue adapters above."""
    return {**GLUE, **ref_interp.reference_table()}


def run_all(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray,
            force: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every activation of ``graph`` on ``x``. ``force`` (tensor -> array): after recording
    an op's own output, later ops read the forced array instead (teacher forcing); the
    returned dict holds the ops' own outputs."""
    force = force or {}
    infos: dict[str, TensorInfo] = validate(graph, tensors)
    fns = table()
    values = {graph.input_spec.name: graph.input_spec.check(x)}
    seen = dict(values)
    for op in graph.ops:
        params = {r: tensors[n] for r, n in op.params.items()}
        out = fns[op.type](op, [values[t] for t in op.inputs], params,
                           [infos[t] for t in op.inputs])
        seen[op.outputs[0]] = values[op.outputs[0]] = out
        if op.outputs[0] in force:
            values[op.outputs[0]] = force[op.outputs[0]]
    return seen


def run(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return run_all(graph, tensors, x)[graph.output_spec.name]
