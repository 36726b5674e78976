"""The int8 glue reference against independent formulations: exact rational rounding,
per-element Python loops, and np.einsum over sliding windows of an explicitly padded array."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from bnnflow.reference import int8_ops

seeds = st.integers(0, 2**32 - 1)


def round_half_up_shift(v: int, s: int) -> int:
    """floor(v / 2^s + 1/2) with exact rationals: the meaning of rshift_round."""
    return math.floor(Fraction(v, 2**s) + Fraction(1, 2))


def clamp8(v: int) -> int:
    return max(-128, min(127, v))


@settings(max_examples=30, deadline=None)
@given(seed=seeds, c=st.integers(1, 12))
def test_requant_family_is_exact_round_half_up(seed, c):
    r = np.random.default_rng(seed)
    x = r.integers(-128, 128, size=(3, c)).astype(np.int8)
    y = r.integers(-128, 128, size=(3, c)).astype(np.int8)
    M, M2 = (r.integers(-(2**15), 2**15, size=c).astype(np.int16) for _ in range(2))
    B, B2 = (r.integers(-(2**22), 2**22, size=c).astype(np.int32) for _ in range(2))
    s = r.integers(0, 31, size=c).astype(np.int32)
    t = r.integers(-130, 130, size=c).astype(np.int32)
    rq = int8_ops.requant(x, M, B, s)
    ad = int8_ops.add_int8(x, y, M, M2, B, s)
    pw = int8_ops.pwl_int8(x, t, M, B, M2, B2, s)
    for i, j in np.ndindex(x.shape):
        q, p, sc = int(x[i, j]), int(y[i, j]), int(s[j])
        assert rq[i, j] == clamp8(round_half_up_shift(int(M[j]) * q + int(B[j]), sc))
        v = int(M[j]) * q + int(M2[j]) * p + int(B[j])
        assert ad[i, j] == clamp8(round_half_up_shift(v, sc))
        v = int(M[j]) * q + int(B[j]) if q >= t[j] else int(M2[j]) * q + int(B2[j])
        assert pw[i, j] == clamp8(round_half_up_shift(v, sc))


@settings(max_examples=20, deadline=None)
@given(seed=seeds, c=st.integers(1, 8))
def test_requant32_is_exact_round_half_up(seed, c):
    r = np.random.default_rng(seed)
    x = r.integers(-(2**31), 2**31, size=(4, c), dtype=np.int32)
    M = r.integers(-(2**31), 2**31, size=c, dtype=np.int32)
    B = r.integers(-(2**60), 2**60, size=c, dtype=np.int64)
    s = r.integers(0, 63, size=c).astype(np.int32)
    out = int8_ops.requant32(x, M, B, s)
    for i, j in np.ndindex(x.shape):
        v = int(M[j]) * int(x[i, j]) + int(B[j])
        assert out[i, j] == clamp8(round_half_up_shift(v, int(s[j])))


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * pad), 8))
    w = draw(st.integers(max(1, kw - 2 * pad), 8))
    return (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 5))), kh, kw, stride, pad


@settings(max_examples=30, deadline=None)
@given(case=conv_cases(), cout=st.integers(1, 6), seed=seeds)
def test_conv2d_int8_equals_einsum_on_padded_windows(case, cout, seed):
    xs, kh, kw, stride, pad = case
    r = np.random.default_rng(seed)
    x = r.integers(0, 256, size=xs).astype(np.uint8)
    zp = r.integers(0, 256, size=xs[-1]).astype(np.int32)
    w = r.integers(-128, 128, size=(cout, kh, kw, xs[-1])).astype(np.int8)
    bias = r.integers(-1000, 1000, size=cout).astype(np.int32)
    d = np.pad(x.astype(np.int64) - zp, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = sliding_window_view(d, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # n,i,j,c,kh,kw
    want = np.einsum("nijcab,oabc->nijo", win, w.astype(np.int64)) + bias
    np.testing.assert_array_equal(int8_ops.conv2d_int8(x, w, bias, zp, stride, pad), want)


@settings(max_examples=20, deadline=None)
@given(case=conv_cases(), m=st.integers(1, 3), seed=seeds)
def test_dwconv2d_int8_equals_loops(case, m, seed):
    xs, kh, _, stride, pad = case
    kw = kh
    if xs[1] + 2 * pad < kh or xs[2] + 2 * pad < kw:
        return
    r = np.random.default_rng(seed)
    x = r.integers(-128, 128, size=xs).astype(np.int8)
    c = xs[-1]
    zp = r.integers(-128, 128, size=c).astype(np.int32)
    w = r.integers(-128, 128, size=(c * m, kh, kw)).astype(np.int8)
    bias = r.integers(-1000, 1000, size=c * m).astype(np.int32)
    out = int8_ops.dwconv2d_int8(x, w, bias, zp, stride, pad)
    _, h, wd, _ = xs
    for n, i, j, o in np.ndindex(out.shape):
        acc = int(bias[o])
        for a in range(kh):
            for b in range(kw):
                ih, iw = i * stride + a - pad, j * stride + b - pad
                if 0 <= ih < h and 0 <= iw < wd:
                    acc += int(w[o, a, b]) * (int(x[n, ih, iw, o // m]) - int(zp[o // m]))
        assert out[n, i, j, o] == acc


@settings(max_examples=20, deadline=None)
@given(k=st.integers(1, 3), stride=st.integers(1, 3), seed=seeds)
def test_pools_equal_loops_over_taps_inside(k, stride, seed):
    r = np.random.default_rng(seed)
    pad = k // 2
    x = r.integers(-128, 128, size=(2, 5, 6, 3)).astype(np.int8)
    mx = int8_ops.maxpool_int8(x, k, stride, pad)
    sm = int8_ops.sumpool_int8(x, k, stride, pad)
    for n, i, j, c in np.ndindex(mx.shape):
        taps = [
            int(x[n, ih, iw, c])
            for ih in range(i * stride - pad, i * stride - pad + k)
            for iw in range(j * stride - pad, j * stride - pad + k)
            if 0 <= ih < 5 and 0 <= iw < 6
        ]
        assert mx[n, i, j, c] == max(taps)
        assert sm[n, i, j, c] == sum(taps)
    np.testing.assert_array_equal(int8_ops.global_sumpool_int8(x), x.astype(np.int64).sum((1, 2)))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3), cin=st.integers(1, 50), cout=st.integers(1, 10), seed=seeds)
def test_dense_int8_equals_einsum_and_wraps_like_int32(n, cin, cout, seed):
    r = np.random.default_rng(seed)
    x = r.integers(-128, 128, size=(n, cin)).astype(np.int8)
    w = r.integers(-128, 128, size=(cout, cin)).astype(np.int8)
    bias = r.integers(-(2**31), 2**31, size=cout, dtype=np.int64).astype(np.int32)
    want = np.einsum("nc,oc->no", x.astype(np.int64), w.astype(np.int64)) + bias
    want = ((want + 2**31) % 2**32 - 2**31).astype(np.int32)
    np.testing.assert_array_equal(int8_ops.dense_int8(x, w, bias), want)
