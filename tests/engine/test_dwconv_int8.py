"""dwconv2d_int8 engine kernels vs the numpy reference on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import int8_ops
from engine import glue_params as gp
from engine.op_check import ISAS, check_op


@st.composite
def dwconvs(draw):
    k = draw(st.integers(1, 5))
    stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, k - 2 * pad), 9))
    w = draw(st.integers(max(1, k - 2 * pad), 9))
    n, c, m = draw(st.integers(1, 2)), draw(st.integers(1, 40)), draw(st.integers(1, 4))
    return (n, h, w, c), (c * m, k, k), stride, pad


@settings(max_examples=40, deadline=None)
@given(conv=dwconvs(), unsigned=st.booleans(), seed=gp.seeds)
def test_dwconv2d_int8_matches_reference(conv, unsigned, seed):
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, zp, w, bias = gp.conv_int8_operands(r, xs, ws, unsigned)
    check_op(
        lambda isa, threads, out: _engine.dwconv2d_int8(
            x, w, bias, zp, stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.dwconv2d_int8(x, w, bias, zp, stride, pad),
    )


def test_dwconv_rejects_bad_multiplier():
    x = np.zeros((1, 4, 4, 3), np.int8)
    with pytest.raises(ValueError, match="w"):
        _engine.dwconv2d_int8(
            x, np.zeros((4, 3, 3), np.int8), np.zeros(4, np.int32), np.zeros(3, np.int32)
        )


# (shift range, |M| bound) of the prepared requant32 forms (csrc/kernels/requant/requant32_plan.h);
# "int64" mixes shifts below and above 32, which no 32-bit form covers.
RQ_FORMS = {"int32": ((0, 22), 2**30), "high32": ((32, 45), 2**31), "int64": ((12, 43), 2**31)}
IN_TILE = {"scalar", "avx2", "avx512", "neon"}  # dwconv2d_int8_requant_in_tile (int32 / high32)


def _rq32(r: np.random.Generator, form: str, co: int):
    """requant32 parameters of ``form`` whose unsaturated window lies in the accumulators'
    range (|acc| < 2^21), so the outputs are not all saturated."""
    (s_lo, s_hi), m_abs = RQ_FORMS[form]
    M = r.integers(-m_abs, m_abs, size=co).astype(np.int32)
    s = r.integers(s_lo, s_hi + 1, size=co).astype(np.int32)
    if form == "int64":
        s[0], s[-1] = s_lo, s_hi
    B = (-M.astype(np.int64) * r.integers(-(2**20), 2**20, size=co)).astype(np.int64)
    return M, B, s


@pytest.mark.parametrize("form", sorted(RQ_FORMS))
@settings(max_examples=25, deadline=None)
@given(conv=dwconvs(), unsigned=st.booleans(), seed=gp.seeds)
def test_dwconv2d_int8_requant_matches_reference(form, conv, unsigned, seed):
    """dwconv2d_int8 + folded requant32 (as the band chains run it): AVX-512 / AVX2 requantise
    in the register tile (any channel count, tails included), the scalar kernel per element,
    NEON per 8-channel block, the int64 form through the int32 tensor; equal to the two
    reference ops."""
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, zp, w, bias = gp.conv_int8_operands(r, xs, ws, unsigned)
    M, B, s = _rq32(r, form, ws[0])
    mode = _engine.requant32_mode(M, B, s)
    # high32 -> int32 if every channel is constant; one channel cannot mix shifts
    assert mode == form or (mode == "int32" and form == "high32") or (form, ws[0]) == ("int64", 1)
    for isa in ISAS:
        want = mode != "int64" and isa in IN_TILE
        assert _engine.dwconv2d_int8_requant_in_tile(M, B, s, isa=isa) == want, isa
    check_op(
        lambda isa, threads, out: _engine.dwconv2d_int8_requant(
            x, w, bias, zp, M, B, s, stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.requant32(int8_ops.dwconv2d_int8(x, w, bias, zp, stride, pad), M, B, s),
    )


def test_dwconv2d_int8_requant_writes_out_and_checks_params():
    r = gp.rng(5)
    x = gp.int8(r, (1, 6, 7, 24))
    w = gp.int8(r, (48, 3, 3))
    bias = r.integers(-1000, 1000, size=48).astype(np.int32)
    zp = r.integers(-128, 128, size=24).astype(np.int32)
    M, B, s = _rq32(r, "high32", 48)
    out = np.empty((1, 3, 4, 48), np.int8)
    got = _engine.dwconv2d_int8_requant(x, w, bias, zp, M, B, s, 2, 1, out=out)
    assert got is out
    want = int8_ops.requant32(int8_ops.dwconv2d_int8(x, w, bias, zp, 2, 1), M, B, s)
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="M"):
        _engine.dwconv2d_int8_requant(x, w, bias, zp, M[:47], B, s, 2, 1)


def test_dwconv2d_int8_requant_in_tile_checks_params():
    """The probe reads (M, B, s) as requant32 does: a 2-D M or a short B is an error naming it."""
    M = np.ones(6, np.int32)
    B = np.zeros(6, np.int64)
    s = np.full(6, 33, np.int32)
    with pytest.raises(ValueError, match=r"^M: expected 1 dimensions"):
        _engine.dwconv2d_int8_requant_in_tile(M.reshape(2, 3), B, s)
    with pytest.raises(ValueError, match=r"^B"):
        _engine.dwconv2d_int8_requant_in_tile(M, B[:5], s)
    with pytest.raises(ValueError, match=r"^s"):
        _engine.dwconv2d_int8_requant_in_tile(M, B, np.full(6, 63, np.int32))
