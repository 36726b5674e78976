"""Graph-level reference interpreter: runs a validated graph op by op on the per-op numpy
reference functions (the executable spec of docs/numerics.md).

:func:`run` returns the float32 logits; :func:`run_all` returns every activation, which the
engine tests compare with the runtime's, tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from bnnflow.graph import SCHEMAS, Graph, Op, TensorInfo, validate

#: ``fn(op, inputs, params, input_infos) -> output``: one op on numpy arrays (params: role ->
#: array; ``input_infos`` give e.g. the real channel count of packed inputs).
RefOp = Callable[[Op, list[np.ndarray], Mapping[str, np.ndarray], list[TensorInfo]],
                 np.ndarray]


def run_all(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray, *,
            table: Mapping[str, RefOp] | None = None,
            infos: Mapping[str, TensorInfo] | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` on batch ``x``; return every activation by name (the input included).

    Args:
        graph, tensors: the model (``tensors``: the container's params).
        x: a batch in the layout of ``graph.input_spec``.
        table: op type -> reference function (default: :func:`reference_table`).
        infos: the graph's inferred tensor infos if already validated (as
            :func:`bnnflow.format.read` returns them); otherwise the graph is validated first.

    Raises:
        ValueError: ``x`` does not match the input spec.
        FormatError: the graph is invalid.
    """
    if infos is None:
        infos = validate(graph, tensors)
    table = reference_table() if table is None else table
    values: dict[str, np.ndarray] = {graph.input_spec.name: graph.input_spec.check(x)}
    for op in graph.ops:
        fn = table.get(op.type)
        if fn is None:
            raise NotImplementedError(f"op {op.name!r}: no reference function for op type "
                                      f"{op.type!r}")
        params = {role: tensors[name] for role, name in op.params.items()}
        values[op.outputs[0]] = fn(op, [values[t] for t in op.inputs], params,
                                   [infos[t] for t in op.inputs])
    return values


def run(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray, *,
        table: Mapping[str, RefOp] | None = None,
        infos: Mapping[str, TensorInfo] | None = None) -> np.ndarray:
    """float32 logits ``[N, classes]`` of ``graph`` on batch ``x`` (see :func:`run_all`)."""
    return run_all(graph, tensors, x, table=table, infos=infos)[graph.output_spec.name]


_TABLE: dict[str, RefOp] | None = None


def reference_table() -> dict[str, RefOp]:
    """Op type -> reference function adapter ``fn(op, inputs, params)`` over the per-op
    modules of :mod:`bnnflow.reference` (built once)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    return _TABLE


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
Arrays = list[np.ndarray]
Params = Mapping[str, np.ndarray]
Infos = list[TensorInfo]

#: IR param role -> keyword of the epilogue functions (docs/numerics.md §4).
EPILOGUE_KEYWORDS = {"scale": "scale", "bias": "bias", "M": "multiplier", "B": "offset",
                     "s": "shift", "T": "threshold"}


def clamp_of(attrs: Mapping[str, object]) -> tuple[int, int] | None:
    """The ``(lo, hi)`` clamp of a bconv/bdense (an open side is the int32 limit), or None."""
    lo, hi = attrs["clamp_lo"], attrs["clamp_hi"]
    if lo is None and hi is None:
        return None
    return (INT32_MIN if lo is None else int(lo), INT32_MAX if hi is None else int(hi))


def epilogue_kwargs(op: Op, params: Mapping[str, np.ndarray]) -> dict[str, object]:
    """Keyword arguments of the fused epilogue (reference and engine use the same names)."""
    kw: dict[str, object] = {"epilogue": op.attrs["epilogue"], "clamp": clamp_of(op.attrs)}
    if op.attrs["epilogue"] == "packed":
        kw["out_groups"] = op.attrs["out_groups"]
    for role, arr in params.items():
        if role in EPILOGUE_KEYWORDS:
            kw[EPILOGUE_KEYWORDS[role]] = arr
    return kw


def _binary_ops() -> dict[str, RefOp]:
    from bnnflow.reference import bconv, bdense, pack, pool_packed

    def ref_pack(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        return pack.pack_bits(ins[0], p["t"], op.attrs["groups"])

    def ref_bconv(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        a = op.attrs
        return bconv.bconv2d(ins[0], p["weights"], cin=infos[0].channels, groups=a["groups"],
                             stride=a["stride"], padding=a["padding"], pad_mode=a["pad_mode"],
                             **epilogue_kwargs(op, p))

    def ref_bdense(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        return bdense.bdense(ins[0], p["weights"], cin=infos[0].channels,
                             **epilogue_kwargs(op, p))

    def ref_maxpool_packed(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        a = op.attrs
        return pool_packed.maxpool_packed(ins[0], a["kernel"], a["stride"], a["padding"])

    return {"pack": ref_pack, "bconv": ref_bconv, "bdense": ref_bdense,
            "maxpool_packed": ref_maxpool_packed}


def _roles(op_type: str) -> tuple[str, ...]:
    """The op's param roles in manifest order: the positional order of its reference
    function (``bnnflow.graph.manifest``)."""
    return tuple(SCHEMAS[op_type].params)


def _positional(fn: Callable[..., np.ndarray], roles: tuple[str, ...], n_inputs: int = 1
                ) -> RefOp:
    """``fn(*inputs, *params[roles])``."""
    def ref(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        return fn(*ins[:n_inputs], *(p[r] for r in roles))
    return ref


def _window(fn: Callable[..., np.ndarray]) -> RefOp:
    """``fn(x, kernel, stride, padding)``."""
    def ref(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        a = op.attrs
        return fn(ins[0], a["kernel"], a["stride"], a["padding"])
    return ref


def _conv(fn: Callable[..., np.ndarray], roles: tuple[str, ...]) -> RefOp:
    """``fn(x, *params[roles], stride=, padding=)``."""
    def ref(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
        return fn(ins[0], *(p[r] for r in roles), stride=op.attrs["stride"],
                  padding=op.attrs["padding"])
    return ref


def _flatten(op: Op, ins: Arrays, p: Params, infos: Infos) -> np.ndarray:
    """``[N, H, W, C] -> [N, H·W·C]`` in NHWC order (docs/numerics.md §7)."""
    return np.ascontiguousarray(ins[0]).reshape(ins[0].shape[0], -1)


def _glue_ops() -> dict[str, RefOp]:
    from bnnflow.reference import float_ops as f
    from bnnflow.reference import int8_ops as i

    return {
        "requant": _positional(i.requant, _roles("requant")),
        "requant32": _positional(i.requant32, _roles("requant32")),
        "add": _positional(i.add_int8, _roles("add"), n_inputs=2),
        "pwl": _positional(i.pwl_int8, _roles("pwl")),
        "maxpool_int8": _window(i.maxpool_int8),
        "sumpool_int8": _window(i.sumpool_int8),
        "global_sumpool_int8": _positional(i.global_sumpool_int8, _roles("global_sumpool_int8")),
        "conv2d_int8": _conv(i.conv2d_int8, _roles("conv2d_int8")),
        "dwconv2d_int8": _conv(i.dwconv2d_int8, _roles("dwconv2d_int8")),
        "dense_int8": _positional(i.dense_int8, _roles("dense_int8")),
        "concat": lambda op, ins, p, infos: i.concat(list(ins)),
        "channel_shuffle": lambda op, ins, p, infos: i.channel_shuffle(ins[0],
                                                                       op.attrs["groups"]),
        "dequant": _positional(f.dequant, _roles("dequant")),
        "scale_bias": _positional(f.scale_bias, _roles("scale_bias")),
        "add_f32": _positional(f.add_f32, _roles("add_f32"), n_inputs=2),
        "pwl_f32": _positional(f.pwl_f32, _roles("pwl_f32")),
        "sigmoid_f32": _positional(f.sigmoid_f32, _roles("sigmoid_f32")),
        "mul_f32": _positional(f.mul_f32, _roles("mul_f32"), n_inputs=2),
        "conv2d_f32": _conv(f.conv2d_f32, _roles("conv2d_f32")),
        "dense_f32": _positional(f.dense_f32, _roles("dense_f32")),
        "maxpool_f32": _window(f.maxpool_f32),
        "avgpool_f32": _window(f.avgpool_f32),
        "global_avgpool_f32": _positional(f.global_avgpool_f32, _roles("global_avgpool_f32")),
        "flatten": _flatten,
    }


def _build_table() -> dict[str, RefOp]:
    return {**_binary_ops(), **_glue_ops()}
