"""The packing spec: layout, sign convention, groups, round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.reference import pack


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 4), cg=st.integers(1, 90))
def test_layout_bit_by_bit(seed, groups, cg):
    rng = np.random.default_rng(seed)
    c = groups * cg
    x = rng.integers(-128, 128, (3, c), dtype=np.int8)
    t = rng.integers(-130, 130, c).astype(np.int32)
    words = pack.pack_bits(x, t, groups)
    wg = -(-cg // 32)
    assert words.shape == (3, groups * wg) and words.dtype == np.uint32
    for p in range(3):
        for g in range(groups):
            for k in range(wg * 32):
                bit = (int(words[p, g * wg + k // 32]) >> (k % 32)) & 1
                expected = int(x[p, g * cg + k] < t[g * cg + k]) if k < cg else 0
                assert bit == expected
    np.testing.assert_array_equal(pack.unpack_bits(words, c, groups), x < t)


def test_sign_of_zero_is_plus_one():
    assert pack.pack_bits(np.array([0.0, -0.5], np.float32), np.zeros(2, np.float32))[0] == 2
    np.testing.assert_array_equal(pack.to_pm1(np.array([False, True])), [1, -1])


def test_bad_groups():
    with pytest.raises(ValueError, match="multiple of groups"):
        pack.pack_bits(np.zeros(6, np.int8), np.zeros(6, np.int32), 4)
    with pytest.raises(ValueError, match="threshold"):
        pack.pack_bits(np.zeros(6, np.int8), np.zeros(5, np.int32))
