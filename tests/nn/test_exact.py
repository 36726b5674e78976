"""bnnflow.nn.exact: a frozen stage-2 model's eval forward is the engine's integer arithmetic.

Model level: the eval logits equal the reference interpreter's (= the engine's, tests/engine)
bit for bit, follow weight updates, and training keeps the fake-quant forward with gradients.
Op level: the torch fixed-point primitives equal the reference's on the extremes of their
integer ranges (hypothesis).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.convert import convert
from bnnflow.models import ftbnn_small
from bnnflow.nn import calibrate, enable_int8, exact, freeze_int8
from bnnflow.reference import float_ops
from bnnflow.reference.fixedpoint import rshift_round, saturate_int8
from bnnflow.reference.interpreter import run as reference_run

from .test_int8 import _Tiny


def _randomize_bn_(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 4 - 2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 3 + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 2 - 1)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)


@pytest.fixture(scope="module")
def frozen() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = ftbnn_small()
    _randomize_bn_(model, 0)
    x = torch.randint(0, 256, (48, 1, 8, 8)).float()
    enable_int8(model)
    calibrate(model, [x])
    freeze_int8(model)
    return model.eval(), x


_GRAPHS: dict[int, tuple] = {}


def _engine_logits(model: torch.nn.Module, x: torch.Tensor, fresh: bool = False) -> np.ndarray:
    """The reference's logits for the model's int8 export (converted once per model object
    unless ``fresh``)."""
    if fresh or id(model) not in _GRAPHS:
        _GRAPHS[id(model)] = convert(model, x[:1], "int8")
    graph, tensors = _GRAPHS[id(model)]
    u8 = np.ascontiguousarray(np.clip(np.round(x.permute(0, 2, 3, 1).numpy()), 0, 255))
    return reference_run(graph, tensors, u8.astype(np.uint8))


def test_eval_forward_is_bit_identical_to_the_reference(frozen):
    model, x = frozen
    assert exact.is_exact(model)
    with torch.no_grad():
        got = model(x).numpy()
    assert got.dtype == np.float32
    assert np.array_equal(got, _engine_logits(model, x))
    # Pixels are quantised as `bnnflow run` does: round half to even, clip to 0..255.
    y = x.clone()
    y[:, :, 0, 0] = 2.5  # rounds to 2
    y[:, :, 1, 1] = 300.0
    with torch.no_grad():
        assert np.array_equal(model(y).numpy(), _engine_logits(model, y))
        z = y.clone()
        z[:, :, 0, 0], z[:, :, 1, 1] = 2.0, 255.0
        assert np.array_equal(model(y).numpy(), model(z).numpy())


def test_autocast_does_not_change_the_logits(frozen):
    model, x = frozen
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got = model(x.to(memory_format=torch.channels_last)).numpy()
    assert got.dtype == np.float32 and np.array_equal(got, _engine_logits(model, x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_eval_forward_is_bit_identical(frozen):
    import copy

    model, x = frozen
    gpu = copy.deepcopy(model).cuda()
    with torch.no_grad():
        got = gpu(x.cuda())
    assert got.device.type == "cuda"
    assert np.array_equal(got.cpu().numpy(), _engine_logits(model, x))


def test_training_keeps_fake_quant_and_gradients_and_eval_follows_updates(frozen):
    import copy
    import pickle

    model, x = frozen
    model = copy.deepcopy(model)
    assert exact.is_exact(model)  # the switch travels with a deep copy (and a pickle)
    assert exact.is_exact(pickle.loads(pickle.dumps(model)))
    model.train()
    out = model(x[:8])
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    with torch.no_grad():
        before = model.eval()(x).clone()
    torch.optim.SGD(model.parameters(), lr=0.5).step()  # new values: converted again
    with torch.no_grad():
        after = model(x).numpy()
    assert not np.array_equal(after, before.numpy())
    assert np.array_equal(after, _engine_logits(model, x, fresh=True))
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.bias.data += 0.5  # through .data: no version bump, still seen
    with torch.no_grad():
        again = model(x).numpy()
    assert not np.array_equal(again, after)
    assert np.array_equal(again, _engine_logits(model, x, fresh=True))


def test_exact_false_keeps_the_fake_quant_eval_forward(frozen):
    import copy

    model, x = frozen
    fq = exact.install(copy.deepcopy(model), False).eval()
    assert not exact.is_exact(fq)
    with torch.no_grad():
        fake, mine = fq(x).numpy(), model(x).numpy()
    # the two forwards only differ by fixed-point rounding: same class almost everywhere
    assert np.mean(fake.argmax(1) == mine.argmax(1)) >= 0.9
    m2 = _Tiny()
    enable_int8(m2)
    calibrate(m2, [torch.randn(2, 1, 5, 5)])
    assert not exact.is_exact(freeze_int8(m2, exact=False))


def test_a_model_the_int8_dataflow_cannot_hold_warns_and_stays_fake_quant():
    torch.manual_seed(1)
    m = _Tiny()  # F.adaptive_avg_pool2d: no lowering
    enable_int8(m)
    x = torch.randn(4, 1, 5, 5)
    calibrate(m, [x])
    freeze_int8(m).eval()
    with pytest.warns(exact.NotExactWarning, match="adaptive_avg_pool2d"):
        y = m(x)
    with torch.no_grad():
        expected = type(m).forward(m, x)
    assert torch.equal(y, expected)


def test_unknown_op_type_is_named():
    from bnnflow.graph.examples import tiny_int8_model

    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    graph.ops[0].type = "channel_shuffle"
    with pytest.raises(Exception, match="channel_shuffle"):
        exact.IntegerGraph(graph, tensors)


def test_tiny_example_graph_runs_exactly():
    """The format's example int8 graph (every param drawn at random) on random input."""
    from bnnflow.graph.examples import tiny_int8_model

    rng = np.random.default_rng(1)
    graph, tensors = tiny_int8_model(rng)
    ig = exact.IntegerGraph(graph, tensors)
    shape = (5, *graph.input_spec.shape[1:])
    lo, hi = (0, 256) if graph.input_spec.dtype == "uint8" else (-128, 128)
    x = rng.integers(lo, hi, shape).astype(graph.input_spec.dtype)
    got = ig.run(torch.from_numpy(x.astype(np.int64))).numpy()
    assert np.array_equal(got, reference_run(graph, tensors, x))


I64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(m=st.integers(-(2**31), 2**31 - 1), x=st.integers(-(2**31), 2**31 - 1), b=I64,
       s=st.integers(0, 62))
def test_requant32_equals_the_reference(m, x, b, s):
    r = 1 << (s - 1) if s else 0
    if not -(2**63) <= m * x + b + r < 2**63:  # the validator refuses such params
        b = -(m * x) // 2
    got = exact.requant(torch.tensor([x]), torch.tensor([m]), torch.tensor([b]),
                        torch.tensor([s]))
    v = np.array([m], np.int64) * np.array([x], np.int64) + np.array([b], np.int64)
    assert int(got[0]) == int(saturate_int8(rshift_round(v, s))[0])


@settings(max_examples=300, deadline=None)
@given(x=st.integers(-(2**31), 2**31 - 1),
       scale=st.floats(-1e6, 1e6, width=32, allow_subnormal=False),
       bias=st.floats(-1e6, 1e6, width=32, allow_subnormal=False))
def test_dequant_rounds_like_the_reference(x, scale, bias):
    got = exact.dequant(torch.tensor([x]), torch.tensor([scale], dtype=torch.float32),
                        torch.tensor([bias], dtype=torch.float32)).numpy()
    ref = float_ops.dequant(np.array([x], np.int32), np.array([scale], np.float32),
                            np.array([bias], np.float32))
    assert got.view(np.int32)[0] == ref.view(np.int32)[0]


INT8_OPS = ["pack", "bconv", "bdense", "maxpool_packed", "requant", "requant32", "add", "pwl",
            "maxpool_int8", "sumpool_int8", "global_sumpool_int8", "conv2d_int8",
            "dwconv2d_int8", "dense_int8", "concat", "dequant"]
OPTIONS = st.fixed_dictionaries({}, optional={
    "kernel": st.integers(1, 3), "stride": st.integers(1, 2), "padding": st.integers(0, 1)
    | st.lists(st.integers(0, 1), min_size=4, max_size=4),  # [top, left, bottom, right]
    "pad_mode": st.sampled_from(["zero", "one"]),
    "epilogue": st.sampled_from(["int32", "int8", "packed"]),
    "multiplier": st.integers(1, 2), "input_dtype": st.sampled_from(["uint8", "int8"])})


def _as_reference(v: torch.Tensor, info) -> np.ndarray:
    from bnnflow.reference.pack import bits_to_words

    a = v.numpy()
    return bits_to_words(a, info.groups) if info.is_packed else a.astype(info.dtype)


@settings(max_examples=120, deadline=None)
@given(op=st.sampled_from(INT8_OPS), options=OPTIONS, groups=st.sampled_from([1, 2]),
       c=st.sampled_from([4, 6, 40]), seed=st.integers(0, 2**16))
def test_every_int8_op_equals_the_reference(op, options, groups, c, seed):
    """Each op of the int8 data-flow (graph.examples.op_case: random params over their whole
    ranges) on random input: every tensor up to the op's output ``"op"`` equals the
    reference's (the case's tail may be float ops)."""
    from bnnflow.errors import FormatError
    from bnnflow.graph.examples import op_case, random_input
    from bnnflow.graph.padding import as_pads
    from bnnflow.reference.interpreter import run_all

    if max(as_pads(options.get("padding", 0))) >= options.get("kernel", 3):
        options["padding"] = 0
    rng = np.random.default_rng(seed)
    try:
        graph, tensors = op_case(op, rng, c=c, groups=groups if c % (2 * groups) == 0 else 1,
                                 **options)
        ig = exact.IntegerGraph(graph, tensors, until="op")
    except (FormatError, ValueError):
        return  # an option this op does not take (e.g. stride with a global pool)
    x = random_input(rng, graph, 3)
    ref = run_all(graph, tensors, x)
    got = ig.run_all(torch.from_numpy(x.astype(np.int64)))
    for name, v in got.items():
        assert np.array_equal(_as_reference(v, ig.infos[name]), ref[name]), (op, name)


def test_ops_outside_the_int8_dataflow_are_refused_by_name(monkeypatch) -> None:
    """A float op type, or a bconv / bdense with the float epilogue: a ValueError naming the
    op, at construction (not deep inside a run)."""
    from bnnflow.graph.examples import tiny_float_model

    graph, tensors = tiny_float_model(np.random.default_rng(0))
    first_float = next(op for op in graph.ops if op.type not in exact.TABLE)
    with pytest.raises(ValueError, match=rf"op '{first_float.name}': .*not an int8 data-flow"):
        exact.IntegerGraph(graph, tensors)
    bconv = next(op for op in graph.ops if op.attrs.get("epilogue") == "float")
    monkeypatch.setattr(exact, "TABLE", {op.type: None for op in graph.ops})
    with pytest.raises(ValueError, match=rf"op '{bconv.name}' \({bconv.type}\): epilogue "
                       "'float' is not part of the int8 data-flow"):
        exact.IntegerGraph(graph, tensors)
