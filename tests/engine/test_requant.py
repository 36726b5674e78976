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
        lambda isa, threads, out: _engine.requant(x, M, B, s, isa=isa, threads=threads, out=out),
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
        lambda isa, threads, out: _engine.requant32(x, M, B, s, isa=isa, threads=threads, out=out),
        lambda: int8_ops.requant32(x, M, B, s),
    )


# Prepared requant32 (csrc/kernels/requant/requant32_plan.h): (M, B, s) folded once, as the
# engine does per model, into int32 lanes on a clamped x ("int32", s small), the high dwords
# of int64 products ("high32", s >= 32) or the plain int64 formula ("int64", anything else).
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
# (shift range, |M| bound, expected form): every channel of the first qualifies for int32
# (T over the clamp window within ±(2^29 + 2^30)), of the second for high32.
FORMS = {
    "int32": ((0, 22), 2**30, {"int32"}),
    "high32": ((32, 62), 2**31, {"high32", "int32"}),  # int32 if every channel is constant
    "any": ((0, 62), 2**31, {"int32", "high32", "int64"}),
}


@st.composite
def rq32_params(draw, form: str):
    (s_lo, s_hi), m_abs, _ = FORMS[form]
    c = draw(st.integers(1, 40))
    edge_m = st.sampled_from([0, 1, -1, -m_abs, m_abs - 1])
    M = draw(st.lists(st.one_of(edge_m, st.integers(-m_abs, m_abs - 1)), min_size=c, max_size=c))
    s = draw(st.lists(st.one_of(st.sampled_from([s_lo, s_hi]), st.integers(s_lo, s_hi)),
                      min_size=c, max_size=c))
    edge_b = st.sampled_from([0, 2**60, -(2**60)])
    B = draw(st.lists(st.one_of(edge_b, st.integers(-(2**60), 2**60), st.integers(-(2**36), 2**36)),
                      min_size=c, max_size=c))
    return np.array(M, np.int32), np.array(B, np.int64), np.array(s, np.int32)


def rq32_inputs(r: np.random.Generator, rows: int, M, B, s) -> np.ndarray:
    """x around each channel's unsaturated window (centre −B/M, half-width ≈ 256·2^s/|M|),
    anywhere in int32, and the ends of int32."""
    c = M.size
    m = np.where(M == 0, 1, M.astype(np.float64))
    centre = np.clip(-B.astype(np.float64) / m, I32_MIN, I32_MAX)
    width = np.minimum(256.0 * np.exp2(s) / np.abs(m), 2.0**32)
    near = centre + r.uniform(-1, 1, size=(rows, c)) * width
    x = np.clip(np.round(near), I32_MIN, I32_MAX).astype(np.int32)
    x[::3] = r.integers(I32_MIN, I32_MAX, size=x[::3].shape, dtype=np.int32, endpoint=True)
    x[0] = I32_MIN
    x[-1] = I32_MAX
    return x


@pytest.mark.parametrize("form", sorted(FORMS))
@settings(max_examples=40, deadline=None)
@given(data=st.data(), rows=st.integers(2, 9), seed=gp.seeds)
def test_requant32_prepared_matches_reference(form, data, rows, seed):
    M, B, s = data.draw(rq32_params(form))
    x = rq32_inputs(gp.rng(seed), rows, M, B, s)
    assert _engine.requant32_mode(M, B, s) in FORMS[form][2]
    check_op(
        lambda isa, threads, out: _engine.requant32(
            x, M, B, s, isa=isa, threads=threads, out=out, prepared=True
        ),
        lambda: int8_ops.requant32(x, M, B, s),
    )


def test_requant32_prepared_edges():
    """Every combination of edge parameters, one channel per tensor (so each takes its own
    form), on the ends of int32 and around the rounding points."""
    xs = [I32_MIN, I32_MIN + 1, -(2**20), -1, 0, 1, 2**20, I32_MAX - 1, I32_MAX]
    x = np.array(xs, np.int32)[:, None]
    seen = set()
    for m in (I32_MIN, I32_MIN + 1, -3, -1, 0, 1, 3, 2**20, I32_MAX):
        for b in (-(2**60), -(2**31), -1, 0, 1, 2**31, 2**60):
            for sh in (0, 1, 20, 22, 23, 30, 31, 32, 33, 50, 61, 62):
                M, B, s = np.array([m], np.int32), np.array([b], np.int64), np.array([sh], np.int32)
                seen.add(_engine.requant32_mode(M, B, s))
                check_op(
                    lambda isa, threads, out, M=M, B=B, s=s: _engine.requant32(
                        x, M, B, s, isa=isa, threads=threads, out=out, prepared=True),
                    lambda M=M, B=B, s=s: int8_ops.requant32(x, M, B, s),
                    threads=(1,),
                )
    assert seen == {"int32", "high32", "int64"}


def test_requant32_modes_of_a_converted_model():
    """The shifts a converter picks (int32 M at full precision, s >= 32) fold into high32; a
    small shift into int32; mixing them, int64."""
    M = np.array([2086237714, -1283437257], np.int32)
    B = np.array([84936882961761, 0], np.int64)
    assert _engine.requant32_mode(M, B, np.array([43, 32], np.int32)) == "high32"
    assert _engine.requant32_mode(M // 2**12, B // 2**30, np.array([20, 12], np.int32)) == "int32"
    assert _engine.requant32_mode(M, B, np.array([43, 12], np.int32)) == "int64"


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
