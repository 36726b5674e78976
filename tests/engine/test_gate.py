"""The gate ops of the float data-flow (``sigmoid_f32``, ``mul_f32``: RealToBinaryNet's
data-dependent scaling, docs/numerics.md §5): the reference's rules, the engine's steps on
every ISA and thread count against the reference (one-op graphs, batch > 1 so the per-sample
broadcast of the gate is exercised), saturation of the sigmoid, and the shape rule of
``mul_f32`` refused with the same message by the Python validator and the native loader."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import FormatError, _engine, cpu
from bnnflow.format import dumps, loads
from bnnflow.format.bnnfile import GRAPH_KEY
from bnnflow.graph.examples import op_case, random_input
from bnnflow.reference import float_ops
from bnnflow.reference.interpreter import run_all
from bnnflow.runtime import Interpreter
from engine.op_check import assert_same


def test_sigmoid_rule() -> None:
    x = np.array([[0.0, 1.0, -1.0, 20.0, -20.0, 100.0, -100.0, 3e38, -3e38]], np.float32)
    y = float_ops.sigmoid_f32(x)
    want = [1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0 for v in x[0].astype(float)]
    np.testing.assert_array_equal(y[0], np.array(want, np.float32))
    assert y[0, 0] == 0.5 and y[0, 7] == 1.0 and y[0, 8] == 0.0


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3), hw=st.integers(1, 6), c=st.integers(1, 9), seed=st.integers(0, 999))
def test_mul_rule(n: int, hw: int, c: int, seed: int) -> None:
    """Same shape, and a [N, C] gate broadcast over H and W; the float32 product exactly."""
    r = np.random.default_rng(seed)
    a = r.standard_normal((n, hw, 2, c)).astype(np.float32)
    g = r.standard_normal((n, c)).astype(np.float32)
    y = float_ops.mul_f32(a, g)
    for i, h, w, k in np.ndindex(a.shape):
        assert y[i, h, w, k] == np.float32(a[i, h, w, k] * g[i, k])
    np.testing.assert_array_equal(float_ops.mul_f32(a, a), a * a)


def _check_gate_ops_exact(graph, got: dict[str, np.ndarray], what: str) -> None:
    """Each gate op of the graph, applied by numpy to the engine's own inputs of that op:
    ``mul_f32`` bit-identical (a float32 product, correctly rounded), ``sigmoid_f32`` within
    one float32 ulp (std::exp against numpy's exp in float64, each rounded once;
    docs/numerics.md). Upstream float ops may differ from the reference within tolerance, so
    the ops are checked on what they actually read."""
    for op in graph.ops:
        if op.type == "mul_f32":
            a, b = (got[t] for t in op.inputs)
            if b.ndim == 2 and a.ndim == 4:
                b = b[:, None, None, :]
            np.testing.assert_array_equal(got[op.output], a * b, err_msg=f"{op.name} {what}")
        elif op.type == "sigmoid_f32":
            x = got[op.inputs[0]].astype(np.float64)
            with np.errstate(over="ignore"):
                want = (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
            np.testing.assert_array_max_ulp(got[op.output], want, maxulp=1)


@settings(max_examples=12, deadline=None)
@given(op=st.sampled_from(["sigmoid_f32", "mul_f32"]), rank=st.sampled_from([2, 4]),
       h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 40),
       gain=st.sampled_from([1.0, 30.0]), seed=st.integers(0, 2**16))
def test_gate_ops_in_a_graph(op: str, rank: int, h: int, w: int, c: int, gain: float,
                             seed: int) -> None:
    """The engine's steps (every ISA, 1 and 2 threads) equal the reference interpreter."""
    rng = np.random.default_rng(seed)
    graph, tensors = op_case(op, rng, h=h, w=w, c=c, rank=rank)
    x = (random_input(rng, graph, 3) * np.float32(gain)).astype(np.float32)
    ref = run_all(graph, tensors, x)
    for isa in cpu.supported_isas():
        for threads in (1, 2):
            got = Interpreter.from_graph(graph, tensors, threads, isa=isa).run_all(x)
            _check_gate_ops_exact(graph, {graph.input_spec.name: x, **got},
                                  f"isa={isa} threads={threads}")
            out = graph.output_spec.name
            assert_same(got[out], ref[out], what=f"{out} isa={isa} threads={threads}")


def test_mul_shape_rule_same_message() -> None:
    """b of neither a's shape nor [N, C]: refused by name, the same message in Python and
    in the native loader."""
    graph, tensors = op_case("mul_f32", np.random.default_rng(0), c=6)
    data = dumps(graph, tensors)
    meta = _metadata(data)
    doc = json.loads(meta[GRAPH_KEY])
    (op,) = [o for o in doc["graph"]["ops"] if o["name"] == "op"]
    op["inputs"] = op["inputs"][::-1]  # a = the [N, C] gate, b = the [N, H, W, C] input
    raw = safetensors.numpy.load(data)
    bad = safetensors.numpy.save(raw, metadata={**meta, GRAPH_KEY: json.dumps(doc)})
    with pytest.raises(FormatError) as py:
        loads(bad)
    with pytest.raises(FormatError) as nat:
        _engine.NativeModel.from_bytes(bad)
    assert str(py.value) == str(nat.value)
    assert "(mul_f32): inputs[1]: shape [-1, 6, 5, 6]" in str(py.value)
    assert ("is not [-1, 6], the shape of 'gate' (a [N, C] gate broadcasts only over a 4-D "
            "inputs[0])") in str(py.value)


def _metadata(data: bytes) -> dict[str, str]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n])["__metadata__"]
