"""Float32 glue engine kernels (scale_bias, dequant, conv2d_f32, dense_f32) vs the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import float_ops
from engine import glue_params as gp
from engine.op_check import ISAS, check_op

shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), gp.channels)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=gp.seeds)
def test_scale_bias_and_dequant_match_reference(shape, seed):
    r = gp.rng(seed)
    c = shape[-1]
    x, a, b = gp.f32(r, shape), gp.f32(r, (c,)), gp.f32(r, (c,))
    check_op(
        lambda isa, threads, out: _engine.scale_bias(x, a, b, isa=isa, threads=threads, out=out),
        lambda: float_ops.scale_bias(x, a, b),
    )
    acc = r.integers(-(2**20), 2**20, size=shape).astype(np.int32)
    check_op(
        lambda isa, threads, out: _engine.dequant(acc, a, b, isa=isa, threads=threads, out=out),
        lambda: float_ops.dequant(acc, a, b),
        rtol=0.0,  # bit-identical (docs/numerics.md §5)
    )


def double_rounding_witnesses(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``n`` (acc, scale, bias) triples whose ``f32(acc·scale + bias)`` rounded once from
    float64 differs from the float32 two-step ``f32(f32(acc·scale) + bias)``, as ``[1, n]``
    int32 and two ``[n]`` float32 arrays."""
    r = np.random.default_rng(seed)
    acc = r.integers(-(2**20), 2**20, size=20 * n).astype(np.int32)
    scale = r.standard_normal(20 * n).astype(np.float32)
    bias = r.standard_normal(20 * n).astype(np.float32)
    once = (acc.astype(np.float64) * scale + bias).astype(np.float32)
    two_step = (acc.astype(np.float32) * scale) + bias
    pick = np.flatnonzero(once != two_step)[:n]
    assert pick.size == n, "too few witnesses drawn"
    return acc[pick].reshape(1, n), scale[pick], bias[pick]


def test_dequant_rounds_product_then_sum_on_every_isa():
    """Elements where one float64 rounding and float32 product-then-sum differ by an ulp (an
    FMA in a kernel, or the old float64 reference, fails here); 37 channels cover the vector
    lanes and the scalar tail of every ISA."""
    acc, scale, bias = double_rounding_witnesses(37)
    want = float_ops.dequant(acc, scale, bias)
    assert np.array_equal(want, (acc.astype(np.float32) * scale) + bias)
    for isa in ISAS:
        for threads in (1, 2):
            got = _engine.dequant(acc, scale, bias, isa=isa, threads=threads)
            assert np.array_equal(got, want), isa


@st.composite
def convs(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, kh - 2 * pad), 9))
    w = draw(st.integers(max(1, kw - 2 * pad), 9))
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 12)), draw(st.integers(1, 70))
    return (n, h, w, cin), (cout, kh, kw, cin), stride, pad


@settings(max_examples=30, deadline=None)
@given(conv=convs(), seed=gp.seeds)
def test_conv2d_f32_matches_reference(conv, seed):
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, w, bias = gp.f32(r, xs), gp.f32(r, ws), gp.f32(r, (ws[0],))
    check_op(
        lambda isa, threads, out: _engine.conv2d_f32(
            x, w, bias, stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: float_ops.conv2d_f32(x, w, bias, stride, pad),
        rtol=1e-4,
    )


@settings(max_examples=20, deadline=None)
@given(conv=convs(), seed=gp.seeds)
def test_conv2d_f32_prepared_weights_match_reference(conv, seed):
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, w, bias = gp.f32(r, xs), gp.f32(r, ws), gp.f32(r, (ws[0],))
    expected = float_ops.conv2d_f32(x, w, bias, stride, pad)
    prepared = {isa: _engine.prepare_conv2d_f32_weights(w, bias, isa=isa) for isa in ISAS}
    w[...], bias[...] = 0, 0  # the prepared weights hold their own copies
    check_op(
        lambda isa, threads, out: _engine.conv2d_f32(
            x, prepared[isa], stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: expected,
        rtol=1e-4,
    )


def test_conv2d_f32_prepared_weights_errors():
    p = _engine.prepare_conv2d_f32_weights(np.ones((2, 1, 1, 3), np.float32),
                                           np.zeros(2, np.float32), isa="scalar")
    assert (p.cout, p.kh, p.kw, p.cin, p.isa) == (2, 1, 1, 3, "scalar")
    with pytest.raises(ValueError, match=r"^x: has 4 channels"):
        _engine.conv2d_f32(np.zeros((1, 2, 2, 4), np.float32), p)
    with pytest.raises(ValueError, match=r"^x: expected dtype float32"):
        _engine.conv2d_f32(np.zeros((1, 2, 2, 3), np.int8), p)
    other = [isa for isa in ISAS if isa != "scalar"]
    if other:
        with pytest.raises(ValueError, match=r"^isa: "):
            _engine.conv2d_f32(np.zeros((1, 2, 2, 3), np.float32), p, isa=other[0])
    with pytest.raises(ValueError, match=r"^bias"):
        _engine.prepare_conv2d_f32_weights(np.ones((2, 1, 1, 3), np.float32),
                                           np.zeros(3, np.float32))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), cin=st.integers(1, 200), cout=st.integers(1, 40), seed=gp.seeds)
def test_dense_f32_matches_reference(n, cin, cout, seed):
    r = gp.rng(seed)
    x, w, bias = gp.f32(r, (n, cin)), gp.f32(r, (cout, cin)), gp.f32(r, (cout,))
    check_op(
        lambda isa, threads, out: _engine.dense_f32(x, w, bias, isa=isa, threads=threads, out=out),
        lambda: float_ops.dense_f32(x, w, bias),
        rtol=1e-4,
    )


def test_f32_glue_rejects_wrong_dtypes():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="a"):
        _engine.scale_bias(x, np.zeros(3, np.float64), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="x"):
        _engine.dequant(x, np.zeros(3, np.float32), np.zeros(3, np.float32))
