"""The float32 glue reference against independent formulations (einsum over sliding windows,
loops over taps, elementwise Python)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from bnnflow.reference import float_ops

seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=25, deadline=None)
@given(
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    seed=seeds,
)
def test_conv2d_f32_equals_einsum(kh, kw, stride, pad, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((2, 6, 7, 3)).astype(np.float32)
    w = r.standard_normal((5, kh, kw, 3)).astype(np.float32)
    bias = r.standard_normal(5).astype(np.float32)
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    want = np.einsum("nijcab,oabc->nijo", win, w.astype(np.float64)) + bias
    got = float_ops.conv2d_f32(x, w, bias, stride, pad)
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-6, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(k=st.integers(1, 3), stride=st.integers(1, 2), seed=seeds)
def test_pools_equal_loops(k, stride, seed):
    r = np.random.default_rng(seed)
    pad = k // 2
    x = r.standard_normal((1, 5, 4, 2)).astype(np.float32)
    mx = float_ops.maxpool_f32(x, k, stride, pad)
    av = float_ops.avgpool_f32(x, k, stride, pad)
    for n, i, j, c in np.ndindex(mx.shape):
        taps = [
            float(x[n, ih, iw, c])
            for ih in range(i * stride - pad, i * stride - pad + k)
            for iw in range(j * stride - pad, j * stride - pad + k)
            if 0 <= ih < 5 and 0 <= iw < 4
        ]
        assert mx[n, i, j, c] == np.float32(max(taps))
        np.testing.assert_allclose(av[n, i, j, c], sum(taps) / (k * k), rtol=1e-6)
    np.testing.assert_allclose(
        float_ops.global_avgpool_f32(x), x.astype(np.float64).mean(axis=(1, 2)), rtol=1e-6
    )


@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_elementwise_float_ops(seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((3, 4)).astype(np.float32)
    t, kp, bp, kn, bn = (r.standard_normal(4).astype(np.float32) for _ in range(5))
    pw = float_ops.pwl_f32(x, t, kp, bp, kn, bn)
    sb = float_ops.scale_bias(x, kp, bp)
    acc = r.integers(-1000, 1000, size=(3, 4)).astype(np.int32)
    dq = float_ops.dequant(acc, kn, bn)
    for i, c in np.ndindex(x.shape):
        v = float(x[i, c])
        want = kp[c] * v + bp[c] if v >= t[c] else kn[c] * v + bn[c]
        np.testing.assert_allclose(pw[i, c], want, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(sb[i, c], kp[c] * v + bp[c], rtol=1e-6, atol=1e-6)
        # f32(acc), the f32 product, the f32 sum: three float32 roundings (numerics §5)
        assert dq[i, c] == np.float32(np.float32(acc[i, c]) * kn[c]) + bn[c]
    np.testing.assert_allclose(float_ops.add_f32(x, x), 2 * x)
    w = r.standard_normal((5, 4)).astype(np.float32)
    b = r.standard_normal(5).astype(np.float32)
    np.testing.assert_allclose(float_ops.dense_f32(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)


def test_dequant_rounds_in_float32_not_float64():
    """dequant = f32(f32(f32(acc)·scale) + bias): on elements where rounding acc·scale + bias
    once from float64 lands one ulp away, the reference takes the float32 two-step value."""
    r = np.random.default_rng(3)
    acc = r.integers(-(2**20), 2**20, 4000).astype(np.int32)
    scale, bias = (r.standard_normal(4000).astype(np.float32) for _ in range(2))
    once = (acc.astype(np.float64) * scale + bias).astype(np.float32)
    differ = once != (acc.astype(np.float32) * scale) + bias
    assert differ.sum() > 100  # about a quarter of the elements
    got = float_ops.dequant(acc[differ].reshape(1, -1), scale[differ], bias[differ])[0]
    assert (got != once[differ]).all()  # the float64 route is not what dequant computes
    for a, s, b, y in zip(acc[differ], scale[differ], bias[differ], got, strict=True):
        assert y == np.float32(np.float32(np.float32(a) * s) + b)
