"""bdense on every ISA and thread count against the numpy reference (docs/numerics.md §4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import bdense as ref

from .binary_cases import epilogue_args, epilogue_kinds, random_packed, seeds
from .op_check import ISAS, check_op


@settings(max_examples=50, deadline=None)
@given(
    seed=seeds,
    n=st.integers(1, 20),
    cin=st.integers(1, 700),
    cout=st.integers(1, 150),
    kind=epilogue_kinds,
    clamp=st.booleans(),
)
def test_bdense_matches_reference(seed, n, cin, cout, kind, clamp):
    rng = np.random.default_rng(seed)
    x = random_packed(rng, (n,), cin, 1)
    w = random_packed(rng, (cout,), cin, 1)
    ep = epilogue_args(rng, kind, cout, cin, clamp)
    prepared = {isa: _engine.prepare_bdense_weights(w, cin, isa=isa) for isa in ISAS}
    check_op(
        lambda isa, threads, out: _engine.bdense(
            x, prepared[isa], **ep, isa=isa, threads=threads, out=out
        ),
        lambda: ref.bdense(x, w, cin=cin, **ep),
    )


def test_bdense_rejects_bad_arguments():
    w = _engine.prepare_bdense_weights(np.zeros((4, 2), np.uint32), 40)
    with pytest.raises(ValueError, match="x: shape"):
        _engine.bdense(np.zeros((3, 1), np.uint32), w)
    with pytest.raises(ValueError, match="x: expected 2 dimensions"):
        _engine.bdense(np.zeros((3,), np.uint32), w)
    with pytest.raises(ValueError, match="weights: shape"):
        _engine.prepare_bdense_weights(np.zeros((4, 2), np.uint32), 70)
    conv = _engine.prepare_bconv_weights(np.zeros((4, 3, 3, 2), np.uint32), 40)
    with pytest.raises(ValueError, match="prepare_bdense_weights"):
        _engine.bdense(np.zeros((3, 2), np.uint32), conv)
