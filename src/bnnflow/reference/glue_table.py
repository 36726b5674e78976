"""The glue ops of the graph-level reference interpreter, by IR op type.

Each entry is ``fn(op, inputs, params, input_infos) -> output`` (the interpreter's ``RefOp``):
``op.attrs`` holds the op's attributes, ``params`` its parameters by role (docs/format.md).
Only ``op.attrs`` is read, so this module needs nothing from ``bnnflow.graph``. The
interpreter's table is ``{**binary_ops, **glue_ops()}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from bnnflow.reference import float_ops, int8_ops

GlueRef = Callable[[Any, Sequence[np.ndarray], Mapping[str, np.ndarray], Sequence[Any]], np.ndarray]


def _params(fn: Callable[..., np.ndarray], roles: tuple[str, ...], n_inputs: int = 1) -> GlueRef:
    """``fn(*inputs[:n_inputs], *params[roles])``."""

    def ref(op: Any, ins: Sequence[np.ndarray], p: Mapping[str, np.ndarray], infos: Sequence[Any]):
        return fn(*ins[:n_inputs], *(p[r] for r in roles))

    return ref


def _window(fn: Callable[..., np.ndarray]) -> GlueRef:
    """``fn(x, kernel, stride, padding)`` from the op's pool attributes."""

    def ref(op: Any, ins: Sequence[np.ndarray], p: Mapping[str, np.ndarray], infos: Sequence[Any]):
        a = op.attrs
        return fn(ins[0], a["kernel"], a["stride"], a["padding"])

    return ref


def _conv(fn: Callable[..., np.ndarray], roles: tuple[str, ...]) -> GlueRef:
    """``fn(x, *params[roles], stride, padding)``."""

    def ref(op: Any, ins: Sequence[np.ndarray], p: Mapping[str, np.ndarray], infos: Sequence[Any]):
        a = op.attrs
        return fn(ins[0], *(p[r] for r in roles), a["stride"], a["padding"])

    return ref


def _concat(op: Any, ins: Sequence[np.ndarray], p: Mapping[str, np.ndarray], infos: Sequence[Any]):
    return int8_ops.concat(list(ins))


def _flatten(op: Any, ins: Sequence[np.ndarray], p: Mapping[str, np.ndarray], infos: Sequence[Any]):
    """``[N, H, W, C] -> [N, H·W·C]`` in NHWC order (a layout change only)."""
    return ins[0].reshape(ins[0].shape[0], -1)


def glue_ops() -> dict[str, GlueRef]:
    """Op type -> reference function for every integer and float glue op of the IR."""
    return {
        "requant": _params(int8_ops.requant, ("M", "B", "s")),
        "requant32": _params(int8_ops.requant32, ("M", "B", "s")),
        "add": _params(int8_ops.add_int8, ("Ma", "Mb", "B", "s"), n_inputs=2),
        "pwl": _params(int8_ops.pwl_int8, ("t", "Mp", "Bp", "Mn", "Bn", "s")),
        "maxpool_int8": _window(int8_ops.maxpool_int8),
        "sumpool_int8": _window(int8_ops.sumpool_int8),
        "global_sumpool_int8": _params(int8_ops.global_sumpool_int8, ()),
        "conv2d_int8": _conv(int8_ops.conv2d_int8, ("weights", "bias", "zp")),
        "dwconv2d_int8": _conv(int8_ops.dwconv2d_int8, ("weights", "bias", "zp")),
        "dense_int8": _params(int8_ops.dense_int8, ("weights", "bias")),
        "concat": _concat,
        "dequant": _params(float_ops.dequant, ("scale", "bias")),
        "scale_bias": _params(float_ops.scale_bias, ("scale", "bias")),
        "add_f32": _params(float_ops.add_f32, (), n_inputs=2),
        "pwl_f32": _params(float_ops.pwl_f32, ("t", "kp", "bp", "kn", "bn")),
        "conv2d_f32": _conv(float_ops.conv2d_f32, ("weights", "bias")),
        "dense_f32": _params(float_ops.dense_f32, ("weights", "bias")),
        "maxpool_f32": _window(float_ops.maxpool_f32),
        "avgpool_f32": _window(float_ops.avgpool_f32),
        "global_avgpool_f32": _params(float_ops.global_avgpool_f32, ()),
        "flatten": _flatten,
    }
