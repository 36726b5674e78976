"""dense_int8 engine kernels vs the numpy reference on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import int8_ops
from engine import glue_params as gp
from engine.op_check import check_op


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), cin=st.integers(1, 300), cout=st.integers(1, 40), seed=gp.seeds)
def test_dense_int8_matches_reference(n, cin, cout, seed):
    r = gp.rng(seed)
    x, w = gp.int8(r, (n, cin)), gp.int8(r, (cout, cin))
    bias = r.integers(-(2**30), 2**30, size=cout).astype(np.int32)
    check_op(
        lambda isa, threads, out: _engine.dense_int8(x, w, bias, isa=isa, threads=threads, out=out),
        lambda: int8_ops.dense_int8(x, w, bias),
    )


@pytest.mark.parametrize("n, cin, cout", [
    (1, 512, 1000),  # Bi-Real-Net-18's classifier: every 4-output group prefetches 16 ahead
    (1, 100, 19), (1, 100, 20), (2, 100, 21),  # around kPrefetchAhead + 4: the last groups
    (1, 64, 24), (3, 577, 45),                  # prefetch their own rows (never past the end)
])
def test_dense_int8_prefetching_shapes_match_reference(n, cin, cout):
    """The AVX-512 / AVX2 kernels prefetch the weight rows of later outputs (docs/performance.md,
    "First calls after another engine"): results unchanged on every ISA and thread count,
    at the classifier's shape and where the prefetch falls back to the group's own rows."""
    r = gp.rng(cin * 1000 + cout)
    x, w = gp.int8(r, (n, cin)), gp.int8(r, (cout, cin))
    bias = r.integers(-(2**30), 2**30, size=cout).astype(np.int32)
    check_op(
        lambda isa, threads, out: _engine.dense_int8(x, w, bias, isa=isa, threads=threads, out=out),
        lambda: int8_ops.dense_int8(x, w, bias),
    )


def test_dense_int8_extremes():
    x = np.full((1, 1000), -128, np.int8)
    w = np.full((3, 1000), -128, np.int8)
    out = _engine.dense_int8(x, w, np.zeros(3, np.int32))
    np.testing.assert_array_equal(out, np.full((1, 3), 16384 * 1000, np.int32))


def test_dense_int8_rejects_mismatch():
    with pytest.raises(ValueError, match="w"):
        _engine.dense_int8(
            np.zeros((1, 4), np.int8), np.zeros((2, 5), np.int8), np.zeros(2, np.int32)
        )
