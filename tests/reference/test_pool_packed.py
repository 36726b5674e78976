"""The packed max-pool spec: the AND of the in-image taps' words."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.reference import pool_packed


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
)
def test_is_and_over_in_image_taps(seed, kernel, stride, padding):
    padding = min(padding, kernel // 2)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2**32, (1, 5, 4, 2), dtype=np.uint64).astype(np.uint32)
    x |= rng.integers(0, 2**32, x.shape, dtype=np.uint64).astype(np.uint32)
    out = pool_packed.maxpool_packed(x, kernel, stride, padding)
    for oy, ox in np.ndindex(out.shape[1], out.shape[2]):
        acc = np.full(2, 0xFFFFFFFF, np.uint32)
        for i, j in np.ndindex(kernel, kernel):
            iy, ix = oy * stride - padding + i, ox * stride - padding + j
            if 0 <= iy < 5 and 0 <= ix < 4:
                acc &= x[0, iy, ix]
        np.testing.assert_array_equal(out[0, oy, ox], acc)


def test_padding_must_be_at_most_half_the_kernel():
    with pytest.raises(ValueError, match="padding"):
        pool_packed.maxpool_packed(np.zeros((1, 4, 4, 1), np.uint32), 3, 2, 2)
