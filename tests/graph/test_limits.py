"""Engine limits live in the schema: at every limit of docs/format.md the validator accepts the
graph and the engine runs it; one step beyond, the validator refuses it naming the field (so
the validator accepts nothing the engine refuses: a loaded file always runs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bnnflow.errors import FormatError
from bnnflow.graph import validate
from bnnflow.graph.examples import op_case, random_input
from bnnflow.graph.schema import MAX_BINARY_K, MAX_KERNEL, MAX_PADDING, MAX_STRIDE
from bnnflow.runtime import Interpreter

K = MAX_BINARY_K
POOLS = ("maxpool_int8", "sumpool_int8", "maxpool_f32", "avgpool_f32", "maxpool_packed")
CONVS = ("conv2d_int8", "dwconv2d_int8", "conv2d_f32", "bconv")

# (op type, case options at the limit, the same beyond it, field named by the refusal)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("bdense", {"c": K}, {"c": K + 1}, "inputs[0]"),
    ("bconv", {"c": K, "h": 1, "w": 1, "kernel": 1, "padding": 0},
     {"c": K + 1, "h": 1, "w": 1, "kernel": 1, "padding": 0}, "params.weights"),
    ("bconv", {"c": K // 9, "h": 3, "w": 3, "kernel": 3, "padding": 0},
     {"c": K // 9 + 1, "h": 3, "w": 3, "kernel": 3, "padding": 0}, "params.weights"),
    *[(op, {"h": 2, "w": 2, "kernel": 1, "stride": MAX_STRIDE, "padding": 0},
       {"h": 2, "w": 2, "kernel": 1, "stride": MAX_STRIDE + 1, "padding": 0}, "attrs.stride")
      for op in CONVS + POOLS],
    *[(op, {"h": 1, "w": 1, "kernel": 1, "padding": MAX_PADDING, "c": 2, "stride": 8},
       {"h": 1, "w": 1, "kernel": 1, "padding": MAX_PADDING + 1, "c": 2, "stride": 8},
       "attrs.padding") for op in CONVS],
    *[(op, {"h": 2, "w": 2, "kernel": MAX_KERNEL, "padding": MAX_KERNEL // 2, "c": 2,
            "stride": 4},
       {"h": 2, "w": 2, "kernel": MAX_KERNEL + 1, "padding": MAX_KERNEL // 2, "c": 2,
        "stride": 4}, "attrs.kernel") for op in POOLS],
    *[(op, {"h": 3, "w": 3, "kernel": 4, "padding": 2, "c": 2, "stride": 1},
       {"h": 3, "w": 3, "kernel": 4, "padding": 3, "c": 2, "stride": 1}, "attrs.padding")
      for op in POOLS],
    # the list form [top, left, bottom, right]: each side at its limit, one side beyond
    *[(op, {"h": 1, "w": 1, "kernel": 1, "padding": [0, MAX_PADDING, MAX_PADDING, 0], "c": 2,
            "stride": 8},
       {"h": 1, "w": 1, "kernel": 1, "padding": [0, MAX_PADDING, MAX_PADDING + 1, 0], "c": 2,
        "stride": 8}, "attrs.padding") for op in CONVS],
    *[(op, {"h": 3, "w": 3, "kernel": 4, "padding": [0, 2, 2, 1], "c": 2, "stride": 1},
       {"h": 3, "w": 3, "kernel": 4, "padding": [0, 2, 3, 1], "c": 2, "stride": 1},
       "attrs.padding") for op in POOLS],
]


def _case(op: str, opts: dict[str, Any]):
    opts = dict(opts)
    dims = {k: opts.pop(k) for k in ("h", "w", "c") if k in opts}
    if op == "bconv":
        opts.setdefault("cout", 2)
    return op_case(op, np.random.default_rng(0), **dims, **opts)


@pytest.mark.parametrize("op, at, beyond, field", CASES,
                         ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_limit_runs_and_beyond_is_refused(op, at, beyond, field):
    graph, tensors = _case(op, at)
    validate(graph, tensors)
    interp = Interpreter.from_graph(graph, tensors)
    assert set(interp.backends.values()) == {"engine"}
    x = random_input(np.random.default_rng(1), graph, 1)
    assert np.isfinite(interp.run(x)).all()
    graph, tensors = _case(op, beyond)
    with pytest.raises(FormatError) as info:
        validate(graph, tensors)
    assert info.value.field == field and info.value.op == "op", str(info.value)


FLOAT_OPS = [("dense_f32", {}), ("conv2d_f32", {}), ("scale_bias", {}), ("dequant", {}),
             ("pwl_f32", {}), ("bconv", {"epilogue": "float"}),
             ("bdense", {"epilogue": "float"}), ("pack", {"dtype": "float32"})]


def _set_float_params(graph, tensors, value: float, rng: np.random.Generator) -> dict:
    out = dict(tensors)
    for op in graph.ops:
        if op.name != "op":
            continue
        for name in op.params.values():
            if out[name].dtype == np.float32:
                signs = np.where(rng.random(out[name].shape) < 0.5, -1.0, 1.0)
                out[name] = (signs * value).astype(np.float32)
    return out


@pytest.mark.parametrize("op, opts", FLOAT_OPS, ids=[o for o, _ in FLOAT_OPS])
def test_float_params_at_the_limit_match_and_beyond_are_refused(op, opts):
    """Issue 10.5: finite float32 params near 3.4e38 loaded, then the engine's float32 sums
    overflowed to inf/NaN where the float64 reference was finite. Params are now limited to
    |x| ≤ 2^64: at the limit, with inputs up to 2^31, engine and reference agree."""
    from bnnflow.reference import interpreter as ref

    rng = np.random.default_rng(2)
    graph, tensors = op_case(op, rng, **opts)
    at = _set_float_params(graph, tensors, 2.0**64, rng)
    validate(graph, at)
    x = random_input(rng, graph, 3)
    if x.dtype == np.float32:
        x = (x * 2.0**29).astype(np.float32)
    got = Interpreter.from_graph(graph, at).run_all(x)["op"]
    want = ref.run_all(graph, at, x)["op"]
    if got.dtype == np.float32:
        assert np.isfinite(want).all() and np.isfinite(got).all()
        scale = float(np.abs(want).max())
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
    else:
        assert np.array_equal(got, want)
    beyond = _set_float_params(graph, tensors, 3.0e38, rng)
    with pytest.raises(FormatError, match=r"magnitude 3e\+38, expected \|x\| <= 2\^64") as info:
        validate(graph, beyond)
    assert info.value.op == "op" and info.value.field.startswith("params.")
