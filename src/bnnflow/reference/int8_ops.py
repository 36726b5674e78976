"""Integer glue ops of the ``int8`` data-flow (docs/numerics.md §3, §5), in plain numpy.

Everything is computed in int64 and then narrowed: int8 results saturate to [-128, 127]
(``saturate_int8``), int32 results wrap modulo 2**32 exactly as the engine's int32
accumulators do. Activations are NHWC; per-channel parameters apply to the last axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bnnflow.graph.padding import as_pads
from bnnflow.reference.fixedpoint import requantize, rshift_round, saturate_int8

#: A ``padding`` attr value: an int (every side) or ``(top, left, bottom, right)``.
Padding = int | Sequence[int]


def _i64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def requant(x: np.ndarray, M: np.ndarray, B: np.ndarray, s: np.ndarray) -> np.ndarray:
    """int8 → int8: ``clamp((M[c]·x + B[c] + r) >> s[c], −128, 127)``, r = 2^(s−1) (s > 0)."""
    return requantize(x, M, B, s)


def requant32(x: np.ndarray, M: np.ndarray, B: np.ndarray, s: np.ndarray) -> np.ndarray:
    """int32 → int8 in int64: ``clamp((M[c]·x + B[c] + r) >> s[c], −128, 127)``, 0 ≤ s ≤ 62."""
    return saturate_int8(rshift_round(_i64(M) * _i64(x) + _i64(B), s))


def add_int8(
    a: np.ndarray, b: np.ndarray, Ma: np.ndarray, Mb: np.ndarray, B: np.ndarray, s: np.ndarray
) -> np.ndarray:
    """Residual add: ``clamp((Ma[c]·a + Mb[c]·b + B[c] + r) >> s[c], −128, 127)``."""
    v = _i64(Ma) * _i64(a) + _i64(Mb) * _i64(b) + _i64(B)
    return saturate_int8(rshift_round(v, s))


def pwl_int8(
    x: np.ndarray,
    t: np.ndarray,
    Mp: np.ndarray,
    Bp: np.ndarray,
    Mn: np.ndarray,
    Bn: np.ndarray,
    s: np.ndarray,
) -> np.ndarray:
    """Piecewise-linear activation: ``v = x ≥ t[c] ? Mp[c]·x + Bp[c] : Mn[c]·x + Bn[c]``, then
    ``clamp((v + r) >> s[c], −128, 127)``."""
    q = _i64(x)
    v = np.where(q >= _i64(t), _i64(Mp) * q + _i64(Bp), _i64(Mn) * q + _i64(Bn))
    return saturate_int8(rshift_round(v, s))


def out_size(n: int, k: int, stride: int, pad: int, pad_end: int | None = None) -> int:
    """Output length of a window op: ``(n + pad + pad_end − k) // stride + 1`` (``pad_end``
    defaults to ``pad``: symmetric)."""
    return (n + pad + (pad if pad_end is None else pad_end) - k) // stride + 1


def window_taps(
    x: np.ndarray, kh: int, kw: int, stride: int, pad: Padding, fill: int | float
) -> list[np.ndarray]:
    """The ``kh·kw`` tap views of NHWC ``x`` padded with ``fill`` (``pad`` an int or
    ``(top, left, bottom, right)``, docs/format.md Padding): tap (i, j) holds, for every output
    pixel ``(y, x)``, the input pixel ``(y·s − top + i, x·s − left + j)``."""
    _, h, w, _ = x.shape
    top, left, bottom, right = as_pads(pad)
    ho, wo = out_size(h, kh, stride, top, bottom), out_size(w, kw, stride, left, right)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    return [
        xp[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride, :]
        for i in range(kh)
        for j in range(kw)
    ]


def maxpool_int8(x: np.ndarray, kernel: int, stride: int, padding: Padding = 0) -> np.ndarray:
    """Max over the taps inside the image (padded taps ignored: they hold −inf)."""
    taps = window_taps(_i64(x), kernel, kernel, stride, padding, fill=np.iinfo(np.int64).min)
    return np.max(taps, axis=0).astype(np.int8)


def sumpool_int8(x: np.ndarray, kernel: int, stride: int, padding: Padding = 0) -> np.ndarray:
    """int32 sum over the taps inside the image (padded taps hold 0)."""
    taps = window_taps(_i64(x), kernel, kernel, stride, padding, fill=0)
    return np.sum(taps, axis=0).astype(np.int32)


def global_sumpool_int8(x: np.ndarray) -> np.ndarray:
    """int32 ``[N, C]`` sum over H·W."""
    return _i64(x).sum(axis=(1, 2)).astype(np.int32)


def conv2d_int8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray,
    zp: np.ndarray,
    stride: int = 1,
    padding: Padding = 0,
) -> np.ndarray:
    """``acc[o] = bias[o] + Σ_{taps inside} Σ_c w[o,kh,kw,c]·(x[c] − zp[c])``, int32 out.

    ``x`` uint8/int8 ``[N,H,W,Cin]``, ``w`` int8 ``[Cout,KH,KW,Cin]``. Padded taps contribute 0
    (the padded pixel *is* ``zp``), so ``x − zp`` is padded with zeros.
    """
    d = _i64(x) - _i64(zp)
    _, kh, kw, _ = w.shape
    taps = window_taps(d, kh, kw, stride, padding, fill=0)
    acc = _i64(bias)
    for t, tap in enumerate(taps):
        acc = acc + tap @ _i64(w[:, t // kw, t % kw, :]).T
    return acc.astype(np.int32)


def dwconv2d_int8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray,
    zp: np.ndarray,
    stride: int = 1,
    padding: Padding = 0,
) -> np.ndarray:
    """Depthwise with multiplier ``m = w.shape[0] // C``: output channel ``o = c·m + j`` is
    ``bias[o] + Σ_{taps inside} w[o,kh,kw]·(x[c] − zp[c])``, int32 out."""
    m = w.shape[0] // x.shape[-1]
    d = np.repeat(_i64(x) - _i64(zp), m, axis=-1)
    _, kh, kw = w.shape
    acc = _i64(bias)
    for t, tap in enumerate(window_taps(d, kh, kw, stride, padding, fill=0)):
        acc = acc + tap * _i64(w[:, t // kw, t % kw])
    return acc.astype(np.int32)


def dense_int8(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``acc[n,o] = bias[o] + Σ_c w[o,c]·x[n,c]``, int32 out."""
    return (_i64(x) @ _i64(w).T + _i64(bias)).astype(np.int32)


def concat(xs: list[np.ndarray]) -> np.ndarray:
    """Concatenation along the channel (last) axis."""
    return np.concatenate(xs, axis=-1)


def channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """ShuffleNet's channel shuffle on the last (channel) axis, ``C = g·n``:
    ``y[..., j·g + i] = x[..., i·n + j]`` for ``i < g``, ``j < n`` (any dtype)."""
    c = x.shape[-1]
    return x.reshape(*x.shape[:-1], groups, c // groups).swapaxes(-1, -2).reshape(x.shape)
