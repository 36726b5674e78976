"""The graph-level reference interpreter: dispatch, every op type end to end, dtypes and
shapes equal to shape inference, and a graph with an answer computed independently."""

from __future__ import annotations

import numpy as np
import pytest

from bnnflow.graph import SCHEMAS, InputSpec, numpy_dtype, validate
from bnnflow.graph.builder import GraphBuilder
from bnnflow.graph.examples import op_case, random_input, tiny_float_model, tiny_int8_model
from bnnflow.reference.interpreter import clamp_of, reference_table, run, run_all


def test_dispatch_order_and_arguments() -> None:
    """A recording table sees every op once, in order, with its inputs, params and infos."""
    graph, tensors = op_case("add", np.random.default_rng(0))
    infos = validate(graph, tensors)
    calls = []

    def record(op, ins, params, in_infos):
        calls.append((op.name, [a.shape for a in ins], sorted(params), in_infos))
        info = infos[op.output]
        return np.zeros(info.concrete_shape(ins[0].shape[0]), numpy_dtype(info.dtype))

    table = {t: record for t in SCHEMAS}
    x = random_input(np.random.default_rng(1), graph, 3)
    out = run_all(graph, tensors, x, table=table)
    assert [c[0] for c in calls] == [op.name for op in graph.ops]
    assert calls[1][1] == [(3, 6, 5, 6), (3, 6, 5, 6)]
    assert calls[1][2] == ["B", "Ma", "Mb", "s"]
    assert [i.name for i in calls[1][3]] == ["x", "other"]
    assert out["x"] is not None and set(out) == {"x", *(op.output for op in graph.ops)}


def test_missing_op_and_bad_input() -> None:
    graph, tensors = op_case("requant", np.random.default_rng(0))
    x = random_input(np.random.default_rng(1), graph, 2)
    with pytest.raises(NotImplementedError, match="'op': no reference function"):
        run(graph, tensors, x, table={})
    with pytest.raises(ValueError, match="expected dtype int8"):
        run(graph, tensors, x.astype(np.int16))
    with pytest.raises(ValueError, match="expected rank 4"):
        run(graph, tensors, x[0])
    with pytest.raises(ValueError, match=r"expected shape \[N, 6, 5, 6\]"):
        run(graph, tensors, x[:, :3])


def test_table_covers_every_op_type() -> None:
    assert set(reference_table()) == set(SCHEMAS)


CASES = [(t, {}) for t in sorted(SCHEMAS)] + [
    ("bconv", {"epilogue": e, "pad_mode": m, "groups": g, "c": 8 * g, "stride": s})
    for e, m, g, s in [("float", "one", 2, 2), ("int8", "zero", 1, 1), ("packed", "valid", 3, 1),
                       ("int32", "one", 1, 2)]
] + [("bdense", {"epilogue": e, "c": 70}) for e in ("float", "int8", "packed")] + [
    ("concat", {"dtype": "float32"}), ("conv2d_int8", {"input_dtype": "int8", "stride": 2}),
    ("pack", {"dtype": "float32"}), ("requant", {"rank": 2}), ("flatten", {"dtype": "int8"}),
]


@pytest.mark.parametrize(("op_type", "options"), CASES,
                         ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_every_op_matches_inferred_infos(op_type: str, options: dict) -> None:
    rng = np.random.default_rng(5)
    graph, tensors = op_case(op_type, rng, **options)
    infos = validate(graph, tensors)
    x = random_input(rng, graph, 2)
    values = run_all(graph, tensors, x)
    for name, info in infos.items():
        v = values[name]
        assert v.dtype == numpy_dtype(info.dtype), name
        assert v.shape == info.concrete_shape(2), name
        if info.is_packed and info.channels % 32:
            # pad bits of every group's last word are 0 (docs/numerics.md §1)
            used = (info.channels // info.groups) % 32
            if used:
                last = v.reshape(*v.shape[:-1], info.groups, -1)[..., -1]
                assert not np.any(last >> np.uint32(used)), name
    logits = values[graph.output_spec.name]
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))


def test_batch_rows_are_independent() -> None:
    rng = np.random.default_rng(2)
    graph, tensors = tiny_int8_model(rng)
    x = random_input(rng, graph, 4)
    whole = run(graph, tensors, x)
    for i in range(4):
        np.testing.assert_array_equal(run(graph, tensors, x[i:i + 1])[0], whole[i])


def test_whole_models_run_deterministically() -> None:
    for model in (tiny_int8_model, tiny_float_model):
        rng = np.random.default_rng(9)
        graph, tensors = model(rng)
        x = random_input(rng, graph, 3)
        a, b = run(graph, tensors, x), run(graph, tensors, x)
        assert a.shape == (3, graph.output_spec.classes) and a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_sign_sum_graph_against_direct_numpy() -> None:
    """int8 x -> pack(t) -> bdense(all weights +1, int32) -> dequant: logits are
    sum_c sign(x[c] - t[c]) with sign(0) = +1, computed here without the reference."""
    rng = np.random.default_rng(3)
    c = 45
    b = GraphBuilder(InputSpec("x", (-1, c), "int8"))
    t = rng.integers(-10, 10, c).astype(np.int32)
    h = b.add("pack", "sign", [b.input], {"groups": 1}, t=t)
    h = b.add("bdense", "sum", [h], {"epilogue": "int32", "clamp_lo": None, "clamp_hi": None},
              weights=np.zeros((1, 2), np.uint32))
    h = b.add("dequant", "out", [h], scale=np.ones(1, np.float32), bias=np.zeros(1, np.float32))
    graph, tensors = b.build(h, 1)
    x = rng.integers(-20, 20, (5, c)).astype(np.int8)
    expected = np.where(x.astype(np.int32) < t, -1, 1).sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(run(graph, tensors, x), expected.astype(np.float32))


def test_clamp_of() -> None:
    assert clamp_of({"clamp_lo": None, "clamp_hi": None}) is None
    assert clamp_of({"clamp_lo": 0, "clamp_hi": None}) == (0, 2**31 - 1)
    assert clamp_of({"clamp_lo": None, "clamp_hi": 5}) == (-(2**31), 5)
