"""concat engine kernel vs numpy on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import int8_ops
from engine import glue_params as gp
from engine.op_check import check_op


@settings(max_examples=20, deadline=None)
@given(
    lead=st.tuples(st.integers(1, 2), st.integers(1, 5), st.integers(1, 5)),
    widths=st.lists(st.integers(0, 40), min_size=1, max_size=4),
    dtype=st.sampled_from([np.int8, np.float32]),
    seed=gp.seeds,
)
def test_concat_matches_numpy(lead, widths, dtype, seed):
    r = gp.rng(seed)
    xs = [r.integers(-128, 128, size=(*lead, c)).astype(dtype) for c in widths]
    check_op(
        lambda isa, threads, out: _engine.concat(xs, isa=isa, threads=threads, out=out),
        lambda: int8_ops.concat(xs),
    )


def test_concat_rejects_mixed_inputs():
    a = np.zeros((2, 3), np.int8)
    with pytest.raises(ValueError, match=r"xs\[1\]"):
        _engine.concat([a, np.zeros((2, 3), np.float32)])
    with pytest.raises(ValueError, match=r"xs\[1\]"):
        _engine.concat([a, np.zeros((3, 3), np.int8)])
    with pytest.raises(ValueError, match="xs"):
        _engine.concat([])
