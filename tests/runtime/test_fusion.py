"""Bind-time fusion (native executor): conv2d_int8 + requant32 run as one engine call,
bit-identical to the two ops, and only where the int32 tensor has no other reader."""

from __future__ import annotations

import numpy as np
import pytest

from bnnflow import cpu
from bnnflow.graph import InputSpec
from bnnflow.graph.builder import GraphBuilder
from bnnflow.graph.examples import random_input, requant32_params, tiny_int8_model
from bnnflow.reference.interpreter import run
from bnnflow.runtime import Interpreter

ISAS = cpu.supported_isas()


def _step_names(interp: Interpreter) -> list[str]:
    return interp.steps


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2])
def test_stem_pair_is_fused_and_exact(isa: str, threads: int) -> None:
    rng = np.random.default_rng(21)
    graph, tensors = tiny_int8_model(rng)
    interp = Interpreter.from_graph(graph, tensors, threads, isa=isa)
    names = _step_names(interp)
    assert "stem.conv+stem.requant" in names
    assert len(names) == len(graph.ops) - 1  # pool.requant follows a sum pool: not fused
    for batch in (1, 3, 1):
        x = random_input(rng, graph, batch)
        np.testing.assert_array_equal(interp.run(x), run(graph, tensors, x))
    assert interp.arena_bytes_per_sample <= interp.peak_activation_bytes
    # run_all keeps every tensor, the int32 one included (the unfused program)
    assert interp.run_all(random_input(rng, graph, 2))["stem.conv"].dtype == np.int32


def _two_reader_graph(rng: np.random.Generator):
    """uint8 image -> conv2d_int8 -> {requant32 -> sumpool -> dequant, dequant} -> add_f32:
    the int32 tensor has two readers, so the pair must not fuse."""
    c, h = 8, 5
    b = GraphBuilder(InputSpec("x", (-1, h, h, 2), "uint8"), "int8")
    conv = b.add("conv2d_int8", "conv", [b.input], {"stride": 1, "padding": 1},
                 weights=rng.integers(-128, 128, (c, 3, 3, 2)).astype(np.int8),
                 bias=rng.integers(-100, 100, c).astype(np.int32), zp=np.array([3, 9], np.int32))
    q = b.add("requant32", "requant", [conv], **requant32_params(rng, c))
    q = b.add("sumpool_int8", "widen", [q], {"kernel": 1, "stride": 1, "padding": 0})
    feats = h * h * c
    scale, zero = np.full(feats, 0.5, np.float32), np.zeros(feats, np.float32)
    a = b.add("dequant", "a", [b.add("flatten", "fa", [q])], scale=scale, bias=zero)
    d = b.add("dequant", "d", [b.add("flatten", "fd", [conv])], scale=scale, bias=zero)
    return b.build(b.add("add_f32", "sum", [a, d]), feats)


def test_pair_with_a_second_reader_is_not_fused() -> None:
    rng = np.random.default_rng(5)
    graph, tensors = _two_reader_graph(rng)
    interp = Interpreter.from_graph(graph, tensors, 2)
    assert _step_names(interp) == [op.name for op in graph.ops]
    x = random_input(rng, graph, 2)
    # dequant rounds identically on engine and reference; add_f32 is one rounding too
    np.testing.assert_array_equal(interp.run(x), run(graph, tensors, x))
