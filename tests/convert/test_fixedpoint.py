"""convert.fixedpoint.choose: precision, range and overflow guarantees (property-based)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.convert.fixedpoint import choose
from bnnflow.graph.fixedpoint import INT8_IN_INT32, INT32_IN_INT64, overflowing_channels
from bnnflow.reference.fixedpoint import rshift_round

REAL = st.floats(-40.0, 40.0, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-6)


@settings(max_examples=200, deadline=None)
@given(st.lists(REAL, min_size=1, max_size=3), st.floats(-1e4, 1e4), st.floats(1.0, 300.0))
def test_int16_choice_is_in_range_and_precise(mults, offset, in_max):
    ms, B, s = choose([np.array([m]) for m in mults], np.array([offset]), [in_max] * len(mults))
    assert 0 <= s[0] <= 30
    assert overflowing_channels(ms, B, s, INT8_IN_INT32).size == 0  # the validator's rule
    assert -(2**31) <= B[0] < 2**31  # B is an int32 param
    for m, M in zip(mults, ms, strict=True):
        assert abs(int(M[0])) <= 32767
        # |M·2^-s − m| ≤ half a step of the chosen shift
        assert abs(M[0] * 2.0 ** -s[0] - m) <= 2.0 ** -(s[0] + 1) + 1e-12


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-9, 1e3), st.floats(-1e6, 1e6), st.floats(1, 2**24))
def test_int32_choice(m, offset, in_max):
    """requant32: the overflow rule covers every int32 input (as the validator and the
    engine check it), and on the reachable inputs |x| ≤ in_max the fixed-point value stays
    within 2^-12 output units of m·x + b, plus the int32 multiplier's relative precision
    (2^-30 of the reachable |m·x|; b clamped where the output saturates anyway)."""
    (M,), B, s = choose([np.array([m])], np.array([offset]), [in_max], bits=32, max_shift=62,
                        acc=INT32_IN_INT64)
    assert 0 <= s[0] <= 62 and abs(int(M[0])) <= 2**31 - 1
    assert overflowing_channels([M], B, s, INT32_IN_INT64).size == 0
    err = abs(M[0] * 2.0 ** -s[0] - m) * in_max
    b = min(max(offset, -(m * in_max + 256)), m * in_max + 256)
    err += abs(B[0] * 2.0 ** -s[0] - b)
    assert err <= 2.0**-12 + m * in_max * 2.0**-29


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 2.0), st.floats(1e3, 1e9), st.booleans())
def test_huge_offsets_saturate_the_same_way(m, big, negative):
    """An offset beyond any reachable sum is clamped, and the output still saturates."""
    b = -big if negative else big
    (M,), B, s = choose([np.array([m])], np.array([b]), [128.0])
    q = np.arange(-128, 128)
    out = np.clip(rshift_round(int(M[0]) * q + int(B[0]), int(s[0])), -128, 127)
    expected = np.clip(np.floor(m * q + b + 0.5), -128, 127)
    assert np.array_equal(out, expected)


def test_zero_multiplier_keeps_offset_precision():
    (M,), B, s = choose([np.array([0.0])], np.array([3.25]), [128.0])
    # the largest s with |B| + 2^(s-1) ≤ 2^31 - 1: 3.75·2^29 < 2^31 ≤ 3.75·2^30
    assert M[0] == 0 and s[0] == 29 and B[0] == round(3.25 * 2**29)


def test_per_channel_max_shift():
    (M,), _, s = choose([np.array([0.5, 0.5])], np.zeros(2), [128.0],
                        max_shift=np.array([3, 20]))
    assert list(s) == [3, 15] and list(M) == [4, 16384]


def test_offset_fits_its_dtype_not_only_the_intermediate():
    """A dead channel (m = 0) with offset −2.44: at s = 30, B = −2.62e9 leaves int32 although
    B + 2^29 does not (found by test_random_models: the int32 cast wrapped B)."""
    (M,), B, s = choose([np.array([0.0])], np.array([-2.4399267480358335]), [128.0])
    assert M[0] == 0 and B[0] >= -(2**31) and s[0] == 29
    assert overflowing_channels([M], B, s, INT8_IN_INT32).size == 0
