"""The runtime Interpreter: engine == reference on every op and ISA, input checks, threads,
memory, summary, files."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from bnnflow import FormatError, cpu
from bnnflow.format import save
from bnnflow.graph import SCHEMAS, op_cost, validate
from bnnflow.graph.examples import op_case, random_input, tiny_float_model, tiny_int8_model
from bnnflow.reference.interpreter import run, run_all
from bnnflow.runtime import Interpreter
from bnnflow.runtime.memory import plan_memory

ISAS = cpu.supported_isas()
RTOL = 1e-5


def _same(actual: np.ndarray, expected: np.ndarray, what: str, *, exact: bool = False) -> None:
    """Integer tensors exact; float32 within RTOL, or exact when ``exact`` (a ``dequant``
    output: engine and reference round it identically, docs/numerics.md §5)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, what
    if expected.dtype == np.float32 and not exact:
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def _logits_exact(graph) -> bool:
    """The logits come from ``dequant`` (every int8 data-flow model): bit-identical."""
    return graph.ops[-1].type == "dequant"


def _check_ops(interp: Interpreter, graph, tensors, x) -> None:
    """Every op's kernel on the reference's inputs equals the reference's output."""
    ref = run_all(graph, tensors, x)
    for op in graph.ops:
        got = interp.run_op(op.name, [ref[t] for t in op.inputs])
        _same(got, ref[op.output], f"{op.name} ({op.type}) isa={interp.isa} "
              f"threads={interp.num_threads}", exact=op.type == "dequant")


CASES = [(t, {}) for t in sorted(SCHEMAS)] + [
    ("bconv", {"epilogue": e, "pad_mode": m, "groups": g, "c": 40 * g, "stride": s,
               "kernel": k, "clamp": cl})
    for e, m, g, s, k, cl in [("float", "one", 2, 2, 3, (None, None)),
                              ("int8", "zero", 1, 1, 5, (-30, None)),
                              ("packed", "valid", 3, 1, 1, (None, None)),
                              ("int32", "one", 1, 2, 3, (0, 20))]
] + [("bdense", {"epilogue": e, "c": 70}) for e in ("float", "int8", "packed")] + [
    ("concat", {"dtype": "float32"}), ("conv2d_int8", {"input_dtype": "int8", "stride": 2}),
    ("pack", {"dtype": "float32", "groups": 2}), ("maxpool_packed", {"c": 70}),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(("op_type", "options"), CASES,
                         ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_engine_equals_reference(op_type: str, options: dict, isa: str) -> None:
    rng = np.random.default_rng(11)
    graph, tensors = op_case(op_type, rng, **options)
    x = random_input(rng, graph, 3)
    for threads in (1, 2):
        interp = Interpreter.from_graph(graph, tensors, threads, isa=isa)
        _check_ops(interp, graph, tensors, x)
        _same(interp.run(x), run(graph, tensors, x), f"logits isa={isa} threads={threads}",
              exact=_logits_exact(graph))


@pytest.mark.parametrize("isa", ISAS)
def test_whole_models(isa: str) -> None:
    rng = np.random.default_rng(4)
    graph, tensors = tiny_int8_model(rng)
    x = random_input(rng, graph, 5)
    interp = Interpreter.from_graph(graph, tensors, 2, isa=isa)
    ref = run_all(graph, tensors, x)
    got = interp.run_all(x)
    assert _logits_exact(graph)
    for name, value in got.items():  # integer data-flow: every tensor exact, logits too
        _same(value, ref[name], name, exact=True)
    graph, tensors = tiny_float_model(rng)
    x = random_input(rng, graph, 5)
    _check_ops(Interpreter.from_graph(graph, tensors, 1, isa=isa), graph, tensors, x)


def test_engine_kernels_are_bound() -> None:
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    interp = Interpreter.from_graph(graph, tensors)
    assert interp.backends == {op.name: "engine" for op in graph.ops}
    # every op is in exactly one step; the stem pair is one fused step
    ops_in_steps = [name for step in interp.steps for name in step.split("+")]
    assert ops_in_steps == [op.name for op in graph.ops]


def test_profile(model_file: Path) -> None:
    interp = Interpreter(model_file, num_threads=2)
    x = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 1)).astype(np.uint8)
    rows = interp.profile(x)
    assert [r[0] for r in rows] == interp.steps
    assert rows[0][1] == "conv2d_int8+requant32" and rows[1][1] == "pack"
    assert all(t >= 0 for _, _, t in rows)
    assert interp.load_seconds > 0 and interp.prepare_seconds > 0
    with pytest.raises(ValueError, match="expected dtype uint8"):
        interp.profile(x.astype(np.int8))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    path = tmp_path_factory.mktemp("m") / "tiny.bnn"
    save(path, graph, tensors)
    return path


def test_from_file(model_file: Path, tmp_path: Path) -> None:
    interp = Interpreter(model_file, num_threads=2)
    assert interp.input_spec.shape == (-1, 8, 8, 1) and interp.input_spec.dtype == "uint8"
    assert interp.output_spec.classes == 10
    assert interp.output_spec.class_names == [str(i) for i in range(10)]
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1)).astype(np.uint8)
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    logits = interp.run(x)
    assert logits.dtype == np.float32 and logits.shape == (4, 10)
    np.testing.assert_array_equal(logits, run(graph, tensors, x))  # int8 model: exact
    bad = tmp_path / "bad.bnn"
    bad.write_bytes(model_file.read_bytes()[:-10])
    with pytest.raises(FormatError):
        Interpreter(bad)


@pytest.mark.parametrize(("x", "pattern"), [
    (np.zeros((2, 8, 8, 1), np.float32), r"expected dtype uint8 .*got dtype float32"),
    (np.zeros((2, 8, 8, 1), np.int8), "got dtype int8"),
    (np.zeros((8, 8, 1), np.uint8), r"expected rank 4 .*got rank 3 with shape \[8, 8, 1\]"),
    (np.zeros((2, 8, 8, 3), np.uint8), r"expected shape \[N, 8, 8, 1\] uint8, got shape "
                                       r"\[2, 8, 8, 3\]"),
    (np.zeros((0, 8, 8, 1), np.uint8), "batch must be >= 1"),
    ([[1, 2]], "expected a numpy array"),
])
def test_bad_input(model_file: Path, x, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        Interpreter(model_file).run(x)


def test_non_contiguous_input_is_accepted(model_file: Path) -> None:
    interp = Interpreter(model_file)
    x = np.random.default_rng(1).integers(0, 256, (3, 8, 8, 2)).astype(np.uint8)
    np.testing.assert_array_equal(interp.run(x[..., :1]), interp.run(x[..., :1].copy()))


def test_bad_arguments(model_file: Path) -> None:
    for bad in (0, 257, -1, 2.0, "2", True, None):
        with pytest.raises(ValueError, match=r"num_threads must be (in \[1, 256\]|an integer)"):
            Interpreter(model_file, num_threads=bad)
    with pytest.raises(ValueError, match="isa must be one of"):
        Interpreter(model_file, isa="sse2")


def test_numpy_integer_threads(model_file: Path) -> None:
    interp = Interpreter(model_file, num_threads=np.int64(2))
    assert interp.num_threads == 2 and type(interp.num_threads) is int
    assert Interpreter(model_file, num_threads=256).num_threads == 256


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_float_input_is_refused(value: float) -> None:
    """numerics §5: NaN/inf give unspecified float results, so run() refuses them (the
    reference interpreter too); a finite input of the same model runs."""
    graph, tensors = tiny_float_model(np.random.default_rng(0))
    assert graph.input_spec.dtype == "float32"
    interp = Interpreter.from_graph(graph, tensors)
    x = random_input(np.random.default_rng(1), graph, 2)
    interp.run(x)
    x[1, 2, 0, 0] = value
    with pytest.raises(ValueError, match=r"non-finite value .* at index \[1, 2, 0, 0\]"):
        interp.run(x)
    with pytest.raises(ValueError, match="non-finite"):
        run(graph, tensors, x)


def test_concurrent_runs(model_file: Path) -> None:
    """Two threads run different batches on one interpreter at once; both get the answers
    a lone run gives."""
    interp = Interpreter(model_file, num_threads=2)
    rng = np.random.default_rng(2)
    xs = [rng.integers(0, 256, (n, 8, 8, 1)).astype(np.uint8) for n in (3, 5)]
    expected = [interp.run(x) for x in xs]
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(30):
            got = interp.run(xs[i])
            if not np.array_equal(got, expected[i]):
                errors.append(f"thread {i} got a wrong answer")
                return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_memory(model_file: Path) -> None:
    interp = Interpreter(model_file)
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    infos = validate(graph, tensors)
    peak = interp.peak_activation_bytes
    assert interp.activation_bytes(4) == 4 * peak
    total = sum(infos[op.output].nbytes(1) for op in graph.ops)
    assert peak < total  # buffers are reused
    for op in graph.ops:  # each op's inputs and output are live together
        live = sum(infos[t].nbytes(1) for t in {*op.inputs, op.output} if t != "image")
        assert peak >= live


def test_summary(model_file: Path) -> None:
    interp = Interpreter(model_file)
    s = interp.summary()
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    infos = validate(graph, tensors)
    assert [r.name for r in s.rows] == [op.name for op in graph.ops]
    conv = next(r for r in s.rows if r.name == "block1.conv")
    assert conv.binary_macs == 8 * 8 * 32 * 9 * 32 and conv.output_shape == [-1, 8, 8, 32]
    binary = 0
    for op in graph.ops:
        params = {r: tensors[n] for r, n in op.params.items()}
        binary += op_cost(op, [infos[t] for t in op.inputs], infos[op.output], params).binary_macs
    assert s.totals["binary_macs"] == binary
    assert s.peak_activation_bytes == interp.peak_activation_bytes
    text = s.to_text()
    assert "block2.conv" in text and "peak activation memory" in text
    assert s.as_dict()["output"]["classes"] == 10


def test_unsupported_isa() -> None:
    missing = [i for i in ("scalar", "avx2", "avx512", "neon") if i not in ISAS]
    if not missing:
        pytest.skip("this CPU runs every ISA")
    graph, tensors = tiny_int8_model(np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="not supported by this CPU"):
        Interpreter.from_graph(graph, tensors, isa=missing[0])


def test_summarize_file_needs_no_kernels(model_file: Path) -> None:
    from bnnflow.runtime import summarize_file

    s = summarize_file(model_file)
    full = Interpreter(model_file).summary()
    assert s.totals == full.totals
    assert s.peak_activation_bytes == full.peak_activation_bytes
    assert {r.backend for r in s.rows} == {"-"}


@pytest.mark.parametrize("model", [tiny_int8_model, tiny_float_model])
def test_arena_reuse_keeps_results_exact(model) -> None:
    """Every tensor in the one arena, buffers reused by liveness: results equal the
    reference exactly, for several batch sizes in a row (arenas come from the pool), and a
    returned array is the caller's (a later run does not change it)."""
    rng = np.random.default_rng(8)
    graph, tensors = model(rng)
    interp = Interpreter.from_graph(graph, tensors)
    assert interp.arena_bytes_per_sample <= interp.peak_activation_bytes
    assert interp.peak_activation_bytes < interp.memory_plan.total_bytes
    exact = graph.dataflow == "int8"
    for batch in (1, 3, 1, 3):
        x = random_input(rng, graph, batch)
        want = run(graph, tensors, x)
        first = interp.run(x)
        if exact:
            np.testing.assert_array_equal(first, want)
        else:
            np.testing.assert_allclose(first, want, rtol=RTOL, atol=RTOL)
        kept = first.copy()
        interp.run(random_input(rng, graph, batch))  # reuses the arena
        np.testing.assert_array_equal(first, kept)  # returned array intact


def _program_io(graph, steps: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(inputs, outputs) of every step of a program given by its step names: the inputs its
    ops read from outside the step; the output of its last op that is not a pack, plus the
    packs' bits (a fused residual block, docs/runtime.md)."""
    ops = {op.name: op for op in graph.ops}
    io = []
    for step in steps:
        members = [ops[name] for name in step.split("+")]
        inside = {op.outputs[0] for op in members}
        inputs = tuple(dict.fromkeys(t for op in members for t in op.inputs if t not in inside))
        main = [op for op in members if op.type != "pack"] or members
        packs = [op.outputs[0] for op in members if op.type == "pack" and op is not main[-1]]
        io.append((inputs, (main[-1].outputs[0], *packs)))
    return io


@pytest.mark.parametrize("model", [tiny_int8_model, tiny_float_model])
def test_native_plan_is_the_python_plan(model) -> None:
    """The native arena planner places exactly as bnnflow.runtime.memory does: the same
    peak for the per-op program and for the fused program run() executes."""
    graph, tensors = model(np.random.default_rng(3))
    interp = Interpreter.from_graph(graph, tensors)
    infos = validate(graph, tensors)
    assert interp.infos == infos
    assert interp.peak_activation_bytes == plan_memory(graph, infos).peak_bytes
    fused = plan_memory(graph, infos, steps=_program_io(graph, interp.steps))
    assert interp.arena_bytes_per_sample == fused.peak_bytes


def test_run_op_checks_its_inputs(model_file: Path) -> None:
    """Wrong count, type, shape, dtype or batch: a ValueError naming the op and the tensor
    (not an IndexError or an engine error)."""
    interp = Interpreter(model_file)
    x = np.random.default_rng(2).integers(0, 256, (3, 8, 8, 1)).astype(np.uint8)
    acts = {interp.input_spec.name: x, **interp.run_all(x)}
    add = next(op for op in interp.graph.ops if op.name == "block1.add")
    a, b = (acts[t] for t in add.inputs)
    np.testing.assert_array_equal(interp.run_op("block1.add", [a, b]), acts[add.output])
    ins = f"2 inputs \\({add.inputs[0]}, {add.inputs[1]}\\)"
    cases = [
        ([], rf"run_op 'block1.add' \(add\): takes {ins}, got 0"),
        ([a], rf"takes {ins}, got 1"),
        ([a, b, b], rf"takes {ins}, got 3"),
        (a, rf"run_op 'block1.add' \(add\): expected a list of {ins}, got ndarray"),
        ([a, b.tolist()], rf"input '{add.inputs[1]}': expected a numpy array"),
        ([a, b[:, :4]], rf"input '{add.inputs[1]}': expected shape \[N, 8, 8, 32\] int8, got "
                        r"shape \[3, 4, 8, 32\]"),
        ([a, b[0]], r"got shape \[8, 8, 32\]"),
        ([a.astype(np.int32), b], rf"input '{add.inputs[0]}': expected dtype int8 .*got "
                                  "dtype int32"),
        ([a, b[:2]], rf"input '{add.inputs[1]}': batch 2, expected 3 \(the batch of "
                     f"'{add.inputs[0]}'\\)"),
        ([a[:0], b[:0]], r"batch 0, expected >= 1"),
    ]
    for inputs, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            interp.run_op("block1.add", inputs)
    with pytest.raises(ValueError, match=r"run_op 'stem.conv' \(conv2d_int8\): takes 1 input "
                       r"\(image\), got 0"):
        interp.run_op("stem.conv", [])
    with pytest.raises(KeyError, match="no op named 'nope'"):
        interp.run_op("nope", [x])
