"""graph.fixedpoint: the one overflow rule of numerics §3, used by the validator and the
converter, and equal to the engine's own check at the boundary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.convert.fixedpoint import choose
from bnnflow.errors import FormatError
from bnnflow.graph import validate
from bnnflow.graph.fixedpoint import (
    INT8_IN_INT32,
    INT32_IN_INT64,
    Accumulator,
    intermediate_bounds,
    overflowing_channels,
    rule_for,
)

SMALL = Accumulator(12, (-5, 7))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-300, 300), min_size=1, max_size=2), st.integers(-3000, 3000),
       st.integers(0, 8))
def test_bounds_are_the_brute_force_extremes(mults, bias, s):
    """min/max over every input combination, rounding term included."""
    lo, hi = SMALL.input_range
    r = (1 << (s - 1)) if s else 0
    grids = np.meshgrid(*[np.arange(lo, hi + 1)] * len(mults))
    v = sum(m * g for m, g in zip(mults, grids, strict=True)) + bias + r
    vmin, vmax = intermediate_bounds(mults, bias, s, SMALL)
    assert (vmin[0], vmax[0]) == (int(v.min()), int(v.max()))
    fits = v.min() >= -(1 << 11) and v.max() < (1 << 11)
    assert (overflowing_channels(mults, bias, s, SMALL).size == 0) == fits


@pytest.mark.parametrize("M, s", [(2**31 - 1, 0), (-(2**31), 5), (12345, 62), (0, 62)])
def test_requant32_boundary_validator_and_engine_agree(M, s):
    """At the largest B the rule allows, the engine accepts the params; one more and both
    refuse (the engine's binding checks every int32 x as well)."""
    acc = INT32_IN_INT64
    _, vmax = intermediate_bounds([M], 0, s, acc)
    B = acc.limits[1] - int(vmax[0])  # vmax(B) == INT64_MAX exactly
    assert overflowing_channels([M], B, s, acc).size == 0
    assert overflowing_channels([M], B + 1, s, acc).size == 1
    x = np.array([[-(2**31)], [2**31 - 1], [0]], np.int32)
    args = (np.array([M], np.int32), np.array([B], np.int64), np.array([s], np.int32))
    _engine.requant32(x, *args)
    with pytest.raises(ValueError, match="overflows int64"):
        _engine.requant32(x, args[0], np.array([B + 1], np.int64), args[2])


def test_validator_uses_the_rule():
    """validate() refuses exactly the channel overflowing_channels reports."""
    from bnnflow.graph.examples import op_case

    graph, tensors = op_case("requant32", np.random.default_rng(0))
    rq = next(op for op in graph.ops if op.type == "requant32")
    M, B, s = (tensors[rq.params[r]] for r in ("M", "B", "s"))
    validate(graph, tensors)
    assert overflowing_channels([M], B, s, INT32_IN_INT64).size == 0
    B2 = B.copy()
    _, vmax = intermediate_bounds([M[-1]], 0, s[-1], INT32_IN_INT64)
    B2[-1] = INT32_IN_INT64.limits[1] - int(vmax[0]) + 1
    bad = dict(tensors)
    bad[rq.params["B"]] = B2
    assert list(overflowing_channels([M], B2, s, INT32_IN_INT64)) == [len(B) - 1]
    with pytest.raises(FormatError, match=rf"channel {len(B) - 1}: M\*x \+ B"):
        validate(graph, bad)


@settings(max_examples=100, deadline=None)
@given(st.floats(1e-9, 10.0), st.floats(-1e9, 1e9), st.floats(1.0, 2.0**30))
def test_choose_passes_the_validator_rule(m, offset, in_max):
    """Whatever the multiplier and offset (a nearly dead BN channel: tiny m, large offset),
    the converter's requant32 params pass the validator's rule; int16 ones too."""
    (M,), B, s = choose([np.array([m])], np.array([offset]), [in_max], bits=32, max_shift=62,
                        acc=INT32_IN_INT64)
    assert overflowing_channels([M], B, s, INT32_IN_INT64).size == 0
    if m * 2**15 < 2**15 - 1:
        (M,), B, s = choose([np.array([m])], np.array([offset]), [min(in_max, 128.0)])
        assert overflowing_channels([M], B, s, INT8_IN_INT32).size == 0


def _binding_call(op_type: str, m: list[np.ndarray], b: list[np.ndarray], s: np.ndarray,
                  c: int) -> None:
    """The op's per-op binding on int8 inputs of ``c`` channels with these params."""
    x = np.zeros((1, c), np.int8)
    if op_type == "requant":
        _engine.requant(x, m[0], b[0], s)
    elif op_type == "add":
        _engine.add_int8(x, x, m[0], m[1], b[0], s)
    else:
        _engine.pwl_int8(x, np.zeros(c, np.int32), m[0], b[0], m[1], b[1], s)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["requant", "add", "pwl"]), st.integers(1, 4), st.data())
def test_bindings_refuse_what_the_rule_refuses(op_type, c, data):
    """The per-op bindings check the manifest's rule with the validator's arithmetic: they
    refuse exactly when a branch overflows, naming the first channel (then branch) and the
    formula."""
    acc, branches = rule_for(op_type, {})
    lo16, hi16 = -(2**15), 2**15 - 1
    ints = st.integers
    m = {r: np.array(data.draw(st.lists(ints(lo16, hi16), min_size=c, max_size=c)), np.int16)
         for br in branches for r in br.mults}
    near = 2**23  # biases near the int32 ends, where the rule bites
    bias = st.one_of(ints(-(2**31), -(2**31) + near), ints(2**31 - 1 - near, 2**31 - 1),
                     ints(-1000, 1000))
    b = {br.bias: np.array(data.draw(st.lists(bias, min_size=c, max_size=c)), np.int32)
         for br in branches}
    s = np.array(data.draw(st.lists(ints(0, 30), min_size=c, max_size=c)), np.int32)
    bad = [(ch, br) for ch in range(c) for br in branches
           if overflowing_channels([m[r][ch] for r in br.mults], b[br.bias][ch], s[ch],
                                   acc).size]
    mults = [m[r] for br in branches for r in br.mults]
    biases = [b[br.bias] for br in branches]
    event("accepted" if not bad else "refused")
    if not bad:
        _binding_call(op_type, mults, biases, s, c)
        return
    ch, br = bad[0]
    with pytest.raises(ValueError) as err:
        _binding_call(op_type, mults, biases, s, c)
    assert str(err.value) == (f"{br.bias}: channel {ch}: {br.formula} + rounding overflows "
                              f"int{acc.bits}")
