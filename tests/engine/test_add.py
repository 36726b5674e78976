"""add_int8 / add_f32 engine kernels vs the numpy reference on every ISA and thread count."""

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
def test_add_int8_matches_reference(shape, seed):
    r = gp.rng(seed)
    c = shape[-1]
    a, b = gp.int8(r, shape), gp.int8(r, shape)
    Ma, Mb, s = gp.mult16(r, c), gp.mult16(r, c), gp.shifts(r, c)
    B = gp.bias_for(r, s, extra_bits=15)
    check_op(
        lambda isa, threads, out: _engine.add_int8(
            a, b, Ma, Mb, B, s, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.add_int8(a, b, Ma, Mb, B, s),
    )


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=gp.seeds)
def test_add_f32_matches_reference(shape, seed):
    r = gp.rng(seed)
    a, b = gp.f32(r, shape), gp.f32(r, shape)
    check_op(
        lambda isa, threads, out: _engine.add_f32(a, b, isa=isa, threads=threads, out=out),
        lambda: float_ops.add_f32(a, b),
    )


def test_add_rejects_mismatched_shapes_and_overflow():
    a = np.zeros((2, 3), np.int8)
    one, zero = np.ones(3, np.int16), np.zeros(3, np.int32)
    with pytest.raises(ValueError, match="b"):
        _engine.add_int8(a, np.zeros((3, 3), np.int8), one, one, zero, zero)
    big = np.full(3, 2**31 - 2**20, np.int32)
    with pytest.raises(ValueError, match="overflows"):
        _engine.add_int8(a, a, np.full(3, 2**15 - 1, np.int16), one, big, zero)
    with pytest.raises(ValueError, match="b"):
        _engine.add_f32(np.zeros(3, np.float32), np.zeros(4, np.float32))
