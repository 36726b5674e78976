"""Pooling engine kernels (int8 and float32, windowed and global) vs the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import float_ops, int8_ops
from engine import glue_params as gp
from engine.op_check import check_op


@st.composite
def windows(draw):
    """(shape, kernel, stride, padding) with padding <= kernel // 2 and a valid output."""
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, k // 2))
    h = draw(st.integers(max(1, k - 2 * pad), 9))
    w = draw(st.integers(max(1, k - 2 * pad), 9))
    shape = (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 80)))
    return shape, k, stride, pad


INT8_POOLS = [("maxpool_int8", int8_ops.maxpool_int8), ("sumpool_int8", int8_ops.sumpool_int8)]
F32_POOLS = [("maxpool_f32", float_ops.maxpool_f32), ("avgpool_f32", float_ops.avgpool_f32)]


@pytest.mark.parametrize(("name", "ref"), INT8_POOLS)
@settings(max_examples=25, deadline=None)
@given(win=windows(), seed=gp.seeds)
def test_int8_pools_match_reference(name, ref, win, seed):
    shape, k, stride, pad = win
    x = gp.int8(gp.rng(seed), shape)
    fn = getattr(_engine, name)
    check_op(
        lambda isa, threads, out: fn(x, k, stride, pad, isa=isa, threads=threads, out=out),
        lambda: ref(x, k, stride, pad),
    )


@pytest.mark.parametrize(("name", "ref"), INT8_POOLS)
@settings(max_examples=25, deadline=None)
@given(win=windows(), c=st.sampled_from([4, 8, 16, 32, 64, 128, 192]), seed=gp.seeds)
def test_int8_pools_whole_vectors_match_reference(name, ref, win, c, seed):
    """C a multiple of the lanes (16 NEON, 32 AVX2, 64 AVX-512): the separable max pool (over
    the window's rows per input column, then its columns); the sum pool whole-vector only."""
    (n, h, w, _), k, stride, pad = win
    x = gp.int8(gp.rng(seed), (n, h, w, c))
    fn = getattr(_engine, name)
    check_op(
        lambda isa, threads, out: fn(x, k, stride, pad, isa=isa, threads=threads, out=out),
        lambda: ref(x, k, stride, pad),
    )


@pytest.mark.parametrize(("name", "ref"), F32_POOLS)
@settings(max_examples=25, deadline=None)
@given(win=windows(), seed=gp.seeds)
def test_f32_pools_match_reference(name, ref, win, seed):
    shape, k, stride, pad = win
    x = gp.f32(gp.rng(seed), shape)
    fn = getattr(_engine, name)
    check_op(
        lambda isa, threads, out: fn(x, k, stride, pad, isa=isa, threads=threads, out=out),
        lambda: ref(x, k, stride, pad),
    )


@settings(max_examples=20, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8), st.integers(1, 150)),
    seed=gp.seeds,
)
def test_global_pools_match_reference(shape, seed):
    r = gp.rng(seed)
    xi, xf = gp.int8(r, shape), gp.f32(r, shape)
    check_op(
        lambda isa, threads, out: _engine.global_sumpool_int8(
            xi, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.global_sumpool_int8(xi),
    )
    check_op(
        lambda isa, threads, out: _engine.global_avgpool_f32(xf, isa=isa, threads=threads, out=out),
        lambda: float_ops.global_avgpool_f32(xf),
    )


def test_maxpool_ignores_padding():
    x = np.full((1, 2, 2, 1), -100, np.int8)
    out = _engine.maxpool_int8(x, 3, 2, 1)
    np.testing.assert_array_equal(out, np.full((1, 1, 1, 1), -100, np.int8))


@pytest.mark.parametrize(
    ("args", "arg"),
    [((3, 1, 2), "padding"), ((0, 1, 0), "kernel"), ((2, 0, 0), "stride"), ((9, 1, 0), "x")],
)
def test_pool_rejects_bad_geometry(args, arg):
    with pytest.raises(ValueError, match=arg):
        _engine.maxpool_int8(np.zeros((1, 4, 4, 3), np.int8), *args)
    with pytest.raises(ValueError, match="x"):
        _engine.sumpool_int8(np.zeros((4, 4, 3), np.int8), 2, 2)
