"""The binary dense spec against the bitwise formula K − 2·popcount(x xor w)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.reference import bdense
from bnnflow.reference.pack import bits_to_words


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cin=st.integers(1, 100), cout=st.integers(1, 5))
def test_matches_bitwise_formula(seed, cin, cout):
    rng = np.random.default_rng(seed)
    x = bits_to_words(rng.random((3, cin)) < 0.5)
    w = bits_to_words(rng.random((cout, cin)) < 0.5)
    d = bdense.bdense_sum(x, w, cin=cin)
    for n, o in np.ndindex(3, cout):
        pop = sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(x[n], w[o], strict=True))
        assert d[n, o] == cin - 2 * pop
    np.testing.assert_array_equal(bdense.bdense(x, w, cin=cin, clamp=(-1, 1)), np.clip(d, -1, 1))
