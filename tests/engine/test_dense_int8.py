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
