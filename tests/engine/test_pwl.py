"""pwl_int8 / pwl_f32 engine kernels vs the numpy reference on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import float_ops, int8_ops
from engine import glue_params as gp
from engine.op_check import check_op

shapes = st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8), gp.channels)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=gp.seeds)
def test_pwl_int8_matches_reference(shape, seed):
    r = gp.rng(seed)
    c = shape[-1]
    x = gp.int8(r, shape)
    t = r.integers(-140, 140, size=c).astype(np.int32)  # also thresholds outside int8
    Mp, Mn, s = gp.mult16(r, c), gp.mult16(r, c), gp.shifts(r, c)
    Bp, Bn = gp.bias_for(r, s, 15), gp.bias_for(r, s, 15)
    check_op(
        lambda isa, threads, out: _engine.pwl_int8(
            x, t, Mp, Bp, Mn, Bn, s, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.pwl_int8(x, t, Mp, Bp, Mn, Bn, s),
    )


def test_pwl_int8_prelu():
    x = np.array([[-100, -1, 0, 1, 100]], np.int8)
    c = 5
    # PReLU with slope 1/4 on the negative side: Mp = 4, Mn = 1, s = 2.
    out = _engine.pwl_int8(
        x,
        np.zeros(c, np.int32),
        np.full(c, 4, np.int16),
        np.zeros(c, np.int32),
        np.ones(c, np.int16),
        np.zeros(c, np.int32),
        np.full(c, 2, np.int32),
    )
    np.testing.assert_array_equal(out, [[-25, 0, 0, 1, 100]])


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=gp.seeds)
def test_pwl_f32_matches_reference(shape, seed):
    r = gp.rng(seed)
    c = shape[-1]
    x = gp.f32(r, shape)
    t, kp, bp, kn, bn = (gp.f32(r, (c,)) for _ in range(5))
    check_op(
        lambda isa, threads, out: _engine.pwl_f32(
            x, t, kp, bp, kn, bn, isa=isa, threads=threads, out=out
        ),
        lambda: float_ops.pwl_f32(x, t, kp, bp, kn, bn),
    )


def test_pwl_rejects_overflowing_line():
    x = np.zeros((1, 1), np.int8)
    one, zero = np.ones(1, np.int16), np.zeros(1, np.int32)
    with pytest.raises(ValueError, match="Bn"):
        _engine.pwl_int8(x, zero, one, zero, one, np.array([2**31 - 1], np.int32), zero)
