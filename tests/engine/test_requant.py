"""requant / requant32 engine kernels vs the numpy reference on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine, cpu
from bnnflow.reference import int8_ops
from engine import glue_params as gp
from engine.op_check import check_op

shapes = st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), gp.channels)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=gp.seeds)
def test_requant_matches_reference(shape, seed):
    r = gp.rng(seed)
    c = shape[-1]
    x, M, s = gp.int8(r, shape), gp.mult16(r, c), gp.shifts(r, c)
    B = gp.bias_for(r, s, extra_bits=15)
    check_op(
        lambda isa, threads: _engine.requant(x, M, B, s, isa=isa, threads=threads),
        lambda: int8_ops.requant(x, M, B, s),
    )


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=gp.seeds)
def test_requant32_matches_reference(shape, seed):
    r = gp.rng(seed)
    c = shape[-1]
    x = r.integers(-(2**31), 2**31, size=shape, dtype=np.int32)
    x[..., ::3] //= 1 << 20  # also small accumulators, which requantize to unsaturated values
    M = r.integers(-(2**31), 2**31, size=c, dtype=np.int32)
    s = r.integers(0, 63, size=c).astype(np.int32)
    B = r.integers(-(2**60), 2**60, size=c, dtype=np.int64)
    check_op(
        lambda isa, threads: _engine.requant32(x, M, B, s, isa=isa, threads=threads),
        lambda: int8_ops.requant32(x, M, B, s),
    )


def test_requant_rounds_half_up():
    x = np.array([[1, 3, -1, -3, 5]], dtype=np.int8)
    ones = np.ones(5, np.int16)
    out = _engine.requant(x, ones, np.zeros(5, np.int32), np.ones(5, np.int32), isa="scalar")
    np.testing.assert_array_equal(out, [[1, 2, 0, -1, 3]])  # x/2 rounded half up


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"s": np.full(4, 31, np.int32)}, "s"),
        ({"s": np.full(4, -1, np.int32)}, "s"),
        ({"M": np.ones(3, np.int16)}, "M"),
        ({"M": np.ones(4, np.int32)}, "M"),
        ({"B": np.full(4, 2**31 - 1, np.int32)}, "B"),
        ({"x": np.zeros((2, 4), np.int32)}, "x"),
        ({"x": np.zeros((4, 2), np.int8).T}, "x"),
        ({"isa": "sse9"}, "sse9"),
        ({"threads": 0}, "threads"),
    ],
)
def test_requant_rejects_bad_arguments(kwargs, arg):
    args = {
        "x": np.zeros((2, 4), np.int8),
        "M": np.ones(4, np.int16),
        "B": np.zeros(4, np.int32),
        "s": np.zeros(4, np.int32),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=arg):
        _engine.requant(**args)


def test_requant32_rejects_int64_overflow():
    x = np.zeros((1, 1), np.int32)
    with pytest.raises(ValueError, match="B"):
        _engine.requant32(
            x,
            np.array([-(2**31)], np.int32),
            np.array([2**62], np.int64),
            np.array([0], np.int32),
        )


def test_unsupported_isa_is_a_value_error():
    x, M = np.zeros((1, 2), np.int8), np.ones(2, np.int16)
    zero = np.zeros(2, np.int32)
    for isa in {"scalar", "avx2", "avx512", "neon"} - set(cpu.supported_isas()):
        with pytest.raises(ValueError, match="isa"):
            _engine.requant(x, M, zero, zero, isa=isa)


def test_isa_none_honours_bnnflow_isa(monkeypatch):
    r = gp.rng(3)
    x, M, s = gp.int8(r, (4, 21)), gp.mult16(r, 21), gp.shifts(r, 21)
    B = gp.bias_for(r, s)
    monkeypatch.setenv("BNNFLOW_ISA", "scalar")
    np.testing.assert_array_equal(_engine.requant(x, M, B, s), int8_ops.requant(x, M, B, s))
    missing = {"avx2", "avx512", "neon"} - set(cpu.supported_isas())
    if missing:
        monkeypatch.setenv("BNNFLOW_ISA", sorted(missing)[0])
        with pytest.raises(RuntimeError, match="BNNFLOW_ISA"):
            _engine.requant(x, M, B, s)
