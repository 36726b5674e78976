"""maxpool_packed on every ISA and thread count against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import pool_packed as ref

from .binary_cases import seeds
from .op_check import check_op


@settings(max_examples=40, deadline=None)
@given(
    seed=seeds,
    n=st.integers(1, 3),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    words=st.integers(1, 40),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 3),
)
def test_maxpool_matches_reference(seed, n, h, w, words, kernel, stride, padding):
    padding = min(padding, kernel // 2)
    h, w = max(h, kernel), max(w, kernel)
    rng = np.random.default_rng(seed)
    # Mostly-set bits so that the AND is not trivially zero.
    x = (rng.integers(0, 2**32, (n, h, w, words), dtype=np.uint64)
         | rng.integers(0, 2**32, (n, h, w, words), dtype=np.uint64)).astype(np.uint32)  # fmt: skip
    check_op(
        lambda isa, threads, out: _engine.maxpool_packed(
            x, kernel, stride, padding, isa=isa, threads=threads, out=out
        ),
        lambda: ref.maxpool_packed(x, kernel, stride, padding),
    )


def test_padded_taps_are_ignored():
    x = np.full((1, 2, 2, 1), 0xFFFFFFFF, np.uint32)
    out = _engine.maxpool_packed(x, 3, 1, 1)
    assert out.shape == (1, 2, 2, 1) and (out == 0xFFFFFFFF).all()


def test_maxpool_rejects_bad_arguments():
    x = np.zeros((1, 4, 4, 1), np.uint32)
    with pytest.raises(ValueError, match="padding"):
        _engine.maxpool_packed(x, 2, 2, 2)
    with pytest.raises(ValueError, match="x: expected dtype uint32"):
        _engine.maxpool_packed(x.astype(np.int32), 2, 2)
    with pytest.raises(ValueError, match="kernel"):
        _engine.maxpool_packed(x, 0, 1)
