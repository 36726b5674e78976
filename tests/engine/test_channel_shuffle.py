"""channel_shuffle engine kernel vs the numpy reference on every ISA and thread count, through
the per-op binding and through a one-op graph on the native executor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine, cpu
from bnnflow.graph.examples import op_case, random_input
from bnnflow.reference import int8_ops
from bnnflow.reference.interpreter import run_all
from bnnflow.runtime import Interpreter
from engine import glue_params as gp
from engine.op_check import assert_same, check_op


@settings(max_examples=30, deadline=None)
@given(
    lead=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    g=st.integers(1, 8),
    n=st.integers(1, 24),
    dtype=st.sampled_from([np.int8, np.float32]),
    seed=gp.seeds,
)
def test_channel_shuffle_matches_numpy(lead, g, n, dtype, seed):
    r = gp.rng(seed)
    x = (gp.int8(r, (*lead, g * n)) if dtype == np.int8 else gp.f32(r, (*lead, g * n)))
    y = check_op(
        lambda isa, threads, out: _engine.channel_shuffle(x, g, isa=isa, threads=threads, out=out),
        lambda: int8_ops.channel_shuffle(x, g),
    )
    assert np.array_equal(int8_ops.channel_shuffle(y, n), x)  # the inverse permutation


def test_reference_rule():
    x = np.arange(12, dtype=np.int8).reshape(1, 2, 6)  # g=3, n=2: y[j*3 + i] = x[i*2 + j]
    assert int8_ops.channel_shuffle(x, 3)[0, 0].tolist() == [0, 2, 4, 1, 3, 5]


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), g=st.integers(1, 6), n=st.integers(1, 12),
       dtype=st.sampled_from(["int8", "float32"]), seed=st.integers(0, 2**16))
def test_channel_shuffle_op_in_a_graph(h, w, g, n, dtype, seed):
    """The engine's step (every ISA, 1 and 2 threads) equals the reference interpreter."""
    rng = np.random.default_rng(seed)
    graph, tensors = op_case("channel_shuffle", rng, h=h, w=w, c=g * n, dtype=dtype,
                             shuffle_groups=g)
    x = random_input(rng, graph, 3)
    ref = run_all(graph, tensors, x)
    for isa in cpu.supported_isas():
        for threads in (1, 2):
            got = Interpreter.from_graph(graph, tensors, threads, isa=isa).run_all(x)
            for t in ("op", graph.output_spec.name):
                assert_same(got[t], ref[t], what=f"{t} isa={isa} threads={threads}")


def test_bad_arguments():
    x = np.zeros((2, 6), np.int8)
    with pytest.raises(ValueError, match="groups"):
        _engine.channel_shuffle(x, 4)
    with pytest.raises(ValueError, match="groups"):
        _engine.channel_shuffle(x, 0)
    with pytest.raises(ValueError, match="int8 or float32"):
        _engine.channel_shuffle(np.zeros((2, 6), np.int32), 2)
