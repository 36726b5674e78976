"""The arena planner: no two simultaneously live tensors share bytes; reuse happens."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.graph import validate
from bnnflow.graph.examples import tiny_float_model, tiny_int8_model
from bnnflow.runtime.memory import ALIGN, Lifetime, lifetimes, place, plan_memory


def _check_disjoint(allocs) -> None:
    items = list(allocs.values())
    for i, a in enumerate(items):
        assert a.offset % ALIGN == 0
        for b in items[i + 1:]:
            if a.overlaps_in_time(b):
                assert not a.overlaps_in_memory(b), (a, b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 20), st.integers(0, 6)),
                min_size=1, max_size=25))
def test_place_never_overlaps_live_tensors(spec) -> None:
    lts = [Lifetime(f"t{i}", size, first, first + span) for i, (size, first, span)
           in enumerate(spec)]
    allocs = place(lts)
    assert set(allocs) == {t.name for t in lts}
    _check_disjoint(allocs)
    peak = max(a.offset + -(-a.size // ALIGN) * ALIGN for a in allocs.values())
    # Lower bound: the tensors live at any one op must all fit.
    for step in range(27):
        live = sum(-(-t.size // ALIGN) * ALIGN for t in lts if t.first <= step <= t.last)
        assert peak >= live


def test_chain_reuses_memory() -> None:
    """A chain a -> b -> c -> d needs two buffers, not four."""
    lts = [Lifetime(n, 1000, i, i + 1) for i, n in enumerate("abcd")]
    allocs = place(lts)
    assert len({a.offset for a in allocs.values()}) == 2


def test_model_plans() -> None:
    for model in (tiny_int8_model, tiny_float_model):
        graph, tensors = model(np.random.default_rng(0))
        infos = validate(graph, tensors)
        plan = plan_memory(graph, infos)
        _check_disjoint(plan.allocations)
        assert set(plan.allocations) == {op.output for op in graph.ops}
        assert plan.peak_bytes < plan.total_bytes
        # The output stays live to the end; every input of an op is live at that op.
        lts = {t.name: t for t in lifetimes(graph, infos)}
        assert lts[graph.output_spec.name].last == len(graph.ops)
        for i, op in enumerate(graph.ops):
            for t in op.inputs:
                if t in lts:
                    assert lts[t].first < i <= lts[t].last


def test_views_are_aligned_and_batch_scaled() -> None:
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    infos = validate(graph, tensors)
    plan = plan_memory(graph, infos)
    for batch in (1, 3):
        arena = plan.new_arena(batch)
        assert arena.ctypes.data % ALIGN == 0
        assert arena.nbytes == batch * plan.peak_bytes
        for name, info in infos.items():
            if name == graph.input_spec.name:
                continue
            v = plan.view(arena, name, batch)
            assert v.shape == info.concrete_shape(batch)
            assert v.ctypes.data % ALIGN == 0
            assert np.shares_memory(v, arena)


def test_last_uses_and_subset_plans() -> None:
    from bnnflow.runtime.memory import last_uses

    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    infos = validate(graph, tensors)
    drops = last_uses(graph)
    dropped = [t for d in drops for t in d]
    assert len(dropped) == len(set(dropped))
    assert graph.output_spec.name not in dropped
    assert "image" in drops[0]  # the stem is the input's only reader
    # block1.add reads stem.requant (the residual) last, long after its definition
    add = next(i for i, op in enumerate(graph.ops) if op.name == "block1.add")
    assert "stem.requant" in drops[add]
    sub = plan_memory(graph, infos, only={"block1.conv", "block2.conv"})
    assert set(sub.allocations) == {"block1.conv", "block2.conv"}
    assert sub.peak_bytes <= plan_memory(graph, infos).peak_bytes
