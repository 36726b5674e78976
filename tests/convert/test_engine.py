"""Exported graphs on the engine Interpreter equal the reference: exactly on every integer and
packed tensor and on dequant's logits, within 1e-5 relative on the other float32 tensors — on
every ISA this CPU runs, and with ``BNNFLOW_ISA=scalar``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from bnnflow import cpu
from bnnflow.convert import convert
from bnnflow.runtime import Interpreter

from . import refops
from .helpers import build_random, nhwc, stage2_
from .strategies import MODEL


def _assert_same(graph, tensors, x: np.ndarray, interp: Interpreter) -> None:
    ref = refops.run_all(graph, tensors, x)
    got = interp.run_all(x)
    for op in graph.ops:
        a, b = got[op.outputs[0]], ref[op.outputs[0]]
        assert a.dtype == b.dtype and a.shape == b.shape, op.name
        if a.dtype == np.float32 and op.type != "dequant":  # dequant (logits): exact
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale, err_msg=op.name)
        else:
            assert np.array_equal(a, b), f"{op.type} {op.name} differs on {interp.isa}"


@settings(max_examples=8, deadline=None)
@given(MODEL)
def test_random_models_engine_equals_reference(spec):
    model, x = build_random(spec)
    stage2_(model, x)
    for dataflow, dtype in (("int8", np.uint8), ("float", np.float32)):
        graph, tensors = convert(model, x[:1], dataflow)
        for isa in cpu.supported_isas():
            interp = Interpreter.from_graph(graph, tensors, num_threads=2, isa=isa)
            assert set(interp.backends.values()) == {"engine"}
            _assert_same(graph, tensors, nhwc(x, dtype), interp)


def test_bnnflow_isa_scalar(monkeypatch):
    spec = {"seed": 5, "cin": 1, "c0": 8, "size": 8, "classes": 3, "batch": 4, "head": "gap",
            "layers": [{"kind": "chain"}, {"kind": "pwl", "pwl": "rprelu"}]}
    model, x = build_random(spec)
    stage2_(model, x)
    monkeypatch.setenv("BNNFLOW_ISA", "scalar")
    if cpu.active_isa() != "scalar":
        pytest.skip("this engine build reads BNNFLOW_ISA only at import")
    for dataflow, dtype in (("int8", np.uint8), ("float", np.float32)):
        graph, tensors = convert(model, x[:1], dataflow)
        interp = Interpreter.from_graph(graph, tensors)
        assert interp.isa == "scalar"
        _assert_same(graph, tensors, nhwc(x, dtype), interp)
