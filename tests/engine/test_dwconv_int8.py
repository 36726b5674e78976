"""dwconv2d_int8 engine kernels vs the numpy reference on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import int8_ops
from engine import glue_params as gp
from engine.op_check import check_op


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
    x = gp.uint8(r, xs) if unsigned else gp.int8(r, xs)
    lo, hi = (0, 256) if unsigned else (-128, 128)
    zp = r.integers(lo, hi, size=xs[-1]).astype(np.int32)
    w = gp.int8(r, ws)
    bias = r.integers(-(2**20), 2**20, size=ws[0]).astype(np.int32)
    check_op(
        lambda isa, threads: _engine.dwconv2d_int8(
            x, w, bias, zp, stride, pad, isa=isa, threads=threads
        ),
        lambda: int8_ops.dwconv2d_int8(x, w, bias, zp, stride, pad),
    )


def test_dwconv_rejects_bad_multiplier():
    x = np.zeros((1, 4, 4, 3), np.int8)
    with pytest.raises(ValueError, match="w"):
        _engine.dwconv2d_int8(
            x, np.zeros((4, 3, 3), np.int8), np.zeros(4, np.int32), np.zeros(3, np.int32)
        )
