"""Helpers shared by the op mappings: TFLite padding, fused activations, option checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnnflow.convert.lce.errors import TFLiteImportError
from bnnflow.convert.lce.reader import TfOp
from bnnflow.graph import padding_attr
from bnnflow.graph.padding import same_padding_1d

# tflite.Padding and tflite.ActivationFunctionType values
SAME, VALID = 0, 1
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
#: A fused activation as the clamp ``[lo, hi]`` it is (``None``: that side open).
ACT_RANGES: dict[int, tuple[float | None, float | None]] = {
    ACT_NONE: (None, None), ACT_RELU: (0.0, None), ACT_RELU_N1_TO_1: (-1.0, 1.0),
    ACT_RELU6: (0.0, 6.0),
}


def fail(op: TfOp, reason: str) -> TFLiteImportError:
    return TFLiteImportError(op.index, op.code, reason)


def window(op: TfOp, shape: tuple[int, ...], kh: int, kw: int, pad_code: int,
           sh: int, sw: int, dh: int = 1, dw: int = 1,
           extra: tuple[tuple[int, int], tuple[int, int]] | None = None,
           ) -> tuple[int, int, int | list[int], tuple[int, int]]:
    """Check a windowed op's geometry and return ``(kernel, stride, padding attr, (Ho, Wo))``.

    The IR's windows are square with one stride and no dilation; ``extra`` is an explicit
    PAD folded in (added to the op's own padding)."""
    if kh != kw:
        raise fail(op, f"kernel {kh}x{kw} is not square (bnnflow's windows are square)")
    if sh != sw:
        raise fail(op, f"strides {sh}x{sw} differ (bnnflow has one stride for both axes)")
    if dh != 1 or dw != 1:
        raise fail(op, f"dilation {dh}x{dw} is not supported (only 1)")
    h, w = shape[1], shape[2]
    if pad_code == SAME:
        (t, b), (le, r) = same_padding_1d(h, kh, sh), same_padding_1d(w, kw, sw)
    elif pad_code == VALID:
        t = b = le = r = 0
    else:
        raise fail(op, f"unknown padding code {pad_code}")
    if extra is not None:
        if pad_code == SAME:
            raise fail(op, "an explicit PAD before a SAME-padded op is not supported")
        (t, b), (le, r) = extra
    ho = (h + t + b - kh) // sh + 1
    wo = (w + le + r - kw) // sw + 1
    return kh, sh, padding_attr(t, le, b, r), (ho, wo)


def activation(op: TfOp, code: Any) -> tuple[float | None, float | None]:
    code = int(code or 0)
    if code not in ACT_RANGES:
        raise fail(op, f"fused activation {ACT_NAMES.get(code, code)} is not supported "
                   "(NONE, RELU, RELU_N1_TO_1 and RELU6 are)")
    return ACT_RANGES[code]


def per_channel(op: TfOp, arr: np.ndarray, channels: int, what: str) -> np.ndarray:
    """A constant broadcast along the last axis only (a scalar or ``[..., C]`` with all other
    dims 1) as a float32 ``[C]`` vector."""
    a = np.asarray(arr, dtype=np.float32)
    if a.size == 1:
        return np.full(channels, a.reshape(()), np.float32)
    if a.shape[-1] != channels or a.size != channels:
        raise fail(op, f"{what} of shape {list(a.shape)} is not per-channel over {channels} "
                   "channels (only scalars and per-channel constants map)")
    return a.reshape(channels)
