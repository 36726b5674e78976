"""Binary convolution and the fused epilogues (docs/numerics.md §4), the executable spec.

For output pixel ``(y, x)`` and output channel ``o`` of group ``g`` (``Cg = cin / groups``
input channels per group):

    d = Σ_{taps (kh, kw)} Σ_{c < Cg}  a[y·s − top + kh, x·s − left + kw, g·Cg + c] · w[o, kh, kw, c]

with ``a, w ∈ {+1, −1}`` unpacked from the bits, and a padded tap's ``a`` = 0 (``zero``, as
PyTorch's zero padding) or +1 (``one``, as Larq's ``pad_values=1``); ``valid`` means no
padding. ``padding`` is an int p (every side) or ``(top, left, bottom, right)``.
Bitwise this is ``K − 2·popcount(x xor w)`` over the taps inside the image plus the padding
term, which is how the engine computes it.
"""

from __future__ import annotations

import numpy as np

from bnnflow.graph.padding import as_pads
from bnnflow.reference.fixedpoint import requantize
from bnnflow.reference.int8_ops import Padding
from bnnflow.reference.pack import pack_bits, to_pm1, unpack_bits, words_per_group

PAD_MODES = ("zero", "one", "valid")
EPILOGUES = ("int32", "float", "int8", "packed")


def bconv2d(
    x: np.ndarray,
    weights: np.ndarray,
    *,
    cin: int,
    groups: int = 1,
    stride: int = 1,
    padding: Padding = 0,
    pad_mode: str = "zero",
    **epilogue: object,
) -> np.ndarray:
    """Binary convolution of packed NHWC ``x`` with packed ``weights`` ``[Cout, KH, KW, Wg]``,
    then :func:`apply_epilogue` (keywords: epilogue, clamp, scale, bias, multiplier, offset,
    shift, threshold, out_groups)."""
    d = bconv2d_sum(
        x, weights, cin=cin, groups=groups, stride=stride, padding=padding, pad_mode=pad_mode
    )
    return apply_epilogue(d, **epilogue)  # type: ignore[arg-type]


def bconv2d_sum(
    x: np.ndarray,
    weights: np.ndarray,
    *,
    cin: int,
    groups: int = 1,
    stride: int = 1,
    padding: Padding = 0,
    pad_mode: str = "zero",
) -> np.ndarray:
    """The raw sums ``d``, int32 ``[N, Ho, Wo, Cout]``, ``Ho = (H + top + bottom − KH) // s + 1``.
    """
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    top, left, bottom, right = as_pads(padding)
    if pad_mode == "valid" and any((top, left, bottom, right)):
        raise ValueError("pad_mode 'valid' needs padding=0")
    cout, kh, kw, wg = weights.shape
    cg, cout_g = cin // groups, cout // groups
    if wg != words_per_group(cin, groups) or cout % groups != 0:
        raise ValueError("weights do not match cin/groups")
    a = to_pm1(unpack_bits(x, cin, groups))  # [N, H, W, cin]
    a = np.pad(
        a,
        ((0, 0), (top, bottom), (left, right), (0, 0)),
        constant_values=1 if pad_mode == "one" else 0,
    )
    w = to_pm1(unpack_bits(weights, cg))  # [Cout, KH, KW, Cg]
    n, hp, wp, _ = a.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    d = np.zeros((n, ho, wo, cout), dtype=np.int64)
    for g in range(groups):
        xs = a[..., g * cg : (g + 1) * cg].astype(np.int64)
        wgrp = w[g * cout_g : (g + 1) * cout_g].astype(np.int64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, i : i + stride * (ho - 1) + 1 : stride,
                           j : j + stride * (wo - 1) + 1 : stride, :]  # fmt: skip
                d[..., g * cout_g : (g + 1) * cout_g] += patch @ wgrp[:, i, j, :].T
    return d.astype(np.int32)


def apply_epilogue(
    d: np.ndarray,
    epilogue: str = "int32",
    clamp: tuple[int, int] | None = None,
    scale: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    multiplier: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    shift: np.ndarray | None = None,
    threshold: np.ndarray | None = None,
    out_groups: int = 1,
) -> np.ndarray:
    """``d' = clamp(d, lo, hi)`` if ``clamp`` is given, then per output channel c (last axis):

    - ``int32``: ``d'``
    - ``float``: ``float32(d') * scale[c] + bias[c]`` in float32
    - ``int8``: ``saturate(rshift_round(multiplier[c] * clamp(d', −128, 127) + offset[c],
      shift[c]))``
    - ``packed``: bits ``d' < threshold[c]`` packed in ``out_groups`` groups (uint32).
    """
    d = np.asarray(d, dtype=np.int64)
    if clamp is not None:
        d = np.clip(d, clamp[0], clamp[1])
    if epilogue == "int32":
        return d.astype(np.int32)
    if epilogue == "float":
        return d.astype(np.float32) * np.asarray(scale, np.float32) + np.asarray(bias, np.float32)
    if epilogue == "int8":
        return requantize(np.clip(d, -128, 127), multiplier, offset, shift)
    if epilogue == "packed":
        return pack_bits(d, np.asarray(threshold, np.int64), out_groups)
    raise ValueError(f"epilogue must be one of {EPILOGUES}, got {epilogue!r}")
