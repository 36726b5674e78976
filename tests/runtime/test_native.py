"""The native executor (csrc/engine) on its own: its loader refuses exactly the files the
Python validator refuses (differential fuzzing with the mutations of tests/format/test_fuzz.py,
and the named error cases), with the same message for op-level rules; every op case and both
tiny models equal the reference on every ISA; a 16,000-op file opens in well under a second;
bad arguments are errors."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnflow import FormatError, _engine, cpu
from bnnflow.format import dumps, loads
from bnnflow.format.bnnfile import GRAPH_KEY, VERSION_KEY
from bnnflow.format.container import write_container
from bnnflow.graph import SCHEMAS, fixedpoint
from bnnflow.graph.examples import op_case, random_input, tiny_float_model, tiny_int8_model
from bnnflow.graph.schema import Condition
from bnnflow.reference.interpreter import run, run_all

NativeModel = _engine.NativeModel
ISAS = cpu.supported_isas()
GRAPH, TENSORS = tiny_int8_model(np.random.default_rng(0))
DATA = dumps(GRAPH, TENSORS)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _python_error(data: bytes) -> str | None:
    try:
        loads(data)
    except FormatError as e:
        return str(e)
    return None


def _native_error(data: bytes) -> str | None:
    try:
        NativeModel.from_bytes(data)
    except FormatError as e:
        assert str(e)
        return str(e)
    return None


def _agree(data: bytes) -> None:
    """Python refuses <=> native refuses; an op-level refusal names the same op and field
    (the native message is the Python one)."""
    py, nat = _python_error(data), _native_error(data)
    assert (py is None) == (nat is None), f"python: {py!r}\nnative: {nat!r}"
    if py is not None and py.startswith("op #"):
        assert nat.split(": ")[:2] == py.split(": ")[:2], (py, nat)


# -- differential fuzzing -----------------------------------------------------------------

@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, len(DATA) - 1), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_flipped_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(DATA)
    for pos, xor in flips:
        data[pos] ^= xor
    _agree(bytes(data))


@SETTINGS
@given(pos=st.integers(0, 2000), value=st.binary(min_size=1, max_size=4))
def test_header_overwrites(pos: int, value: bytes) -> None:
    data = bytearray(DATA)
    data[8 + pos:8 + pos + len(value)] = value
    _agree(bytes(data))


def test_truncations() -> None:
    for n in range(0, len(DATA), max(1, len(DATA) // 300)):
        assert _native_error(DATA[:n]) is not None, n
    assert _native_error(DATA + b"\0") is not None


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4),
    max_leaves=10,
)


def _split(data: bytes) -> tuple[dict, dict]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n])["__metadata__"], safetensors.numpy.load(data)


META, RAW = _split(DATA)
DOC = json.loads(META[GRAPH_KEY])


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(DOC) if p]


@SETTINGS
@given(path=st.sampled_from(PATHS), action=st.sampled_from(["replace", "delete"]),
       value=_json)
def test_json_mutations(path: tuple, action: str, value) -> None:
    doc = json.loads(META[GRAPH_KEY])
    node = doc
    for key in path[:-1]:
        node = node[key]
    if action == "delete":
        del node[path[-1]]
    else:
        node[path[-1]] = value
    _agree(safetensors.numpy.save(dict(RAW), metadata={**META, GRAPH_KEY: json.dumps(doc)}))


@SETTINGS
@given(name=st.sampled_from(sorted(RAW)), data=st.data())
def test_tensor_mutations(name: str, data) -> None:
    raw = dict(RAW)
    arr = raw[name]
    kind = data.draw(st.sampled_from(["dtype", "shape", "values", "drop"]))
    if kind == "dtype":
        dt = data.draw(st.sampled_from(["int8", "uint8", "int16", "int32", "int64", "uint32",
                                        "float32"]))
        raw[name] = arr.astype(dt)
    elif kind == "shape":
        raw[name] = np.resize(arr, data.draw(st.lists(st.integers(0, 5), max_size=4)))
    elif kind == "values":
        bits = data.draw(st.binary(min_size=arr.nbytes, max_size=arr.nbytes))
        raw[name] = np.frombuffer(bits, arr.dtype).reshape(arr.shape).copy()
    else:
        del raw[name]
    _agree(safetensors.numpy.save(raw, metadata=META))


def _header(obj) -> bytes:
    text = json.dumps(obj).encode()
    return struct.pack("<Q", len(text)) + text


@pytest.mark.parametrize(("data", "pattern"), [
    (b"", "shorter than the 8-byte"),
    (b"PK\x03\x04" + bytes(20), "PyTorch checkpoint"),
    (b"\x80\x04" + bytes(20), "PyTorch checkpoint"),
    (struct.pack("<Q", 1 << 60) + b"{}", "absurd"),
    (struct.pack("<Q", 100) + b"{}", "truncated file: header length 100"),
    (struct.pack("<Q", 4) + b"{]}x", "not valid JSON"),
    (_header({"__metadata__": {"a": 1}}), "__metadata__ must map strings to strings"),
    (_header({"t": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}) + bytes(8),
     "dtype 'F64'"),
    (_header({"t": {"dtype": "F32", "shape": [1 << 39, 1 << 39], "data_offsets": [0, 4]}})
     + bytes(4), "bytes of data for shape"),
    (_header({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
              "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}) + bytes(3),
     "overlap"),
    (_header({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}) + bytes(1),
     "not a bnnflow file"),
    (struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
])
def test_container_errors(data: bytes, pattern: str) -> None:
    with pytest.raises(FormatError, match=pattern):
        loads(data)
    with pytest.raises(FormatError, match=pattern):
        NativeModel.from_bytes(data)


def _with_meta(**changes) -> bytes:
    return safetensors.numpy.save(dict(RAW), metadata={**META, **changes})


@pytest.mark.parametrize(("data", "pattern"), [
    (_with_meta(**{VERSION_KEY: "3"}), r"format version 3 is not supported .*versions 1, 2\)"),
    (_with_meta(**{VERSION_KEY: "1.0"}), "not an integer"),
    (_with_meta(**{GRAPH_KEY: "{"}), r"bnnflow\.graph is not valid JSON"),
    (_with_meta(**{GRAPH_KEY: '{"format_version": NaN}'}), "not valid JSON"),
    (_with_meta(**{GRAPH_KEY: json.dumps({**DOC, "producer": 3})}), "producer"),
    (_with_meta(**{GRAPH_KEY: json.dumps({**DOC, "format_version": True})}), "differs from"),
])
def test_document_errors(data: bytes, pattern: str) -> None:
    assert _python_error(data) is not None
    with pytest.raises(FormatError, match=pattern):
        NativeModel.from_bytes(data)


def _with_padding(op_type: str, value, **options) -> bytes:
    """An op case whose op ``"op"`` has its ``padding`` attr replaced in the file's JSON (so
    the writer's own validation is bypassed)."""
    graph, tensors = op_case(op_type, np.random.default_rng(0), **options)
    meta, raw = _split(dumps(graph, tensors))
    doc = json.loads(meta[GRAPH_KEY])
    (op,) = [o for o in doc["graph"]["ops"] if o["name"] == "op"]
    op["attrs"]["padding"] = value
    return safetensors.numpy.save(dict(raw), metadata={**meta, GRAPH_KEY: json.dumps(doc)})


@pytest.mark.parametrize(("op_type", "value", "options", "pattern"), [
    ("conv2d_f32", [0, 1, 1, 0], {"padding": [0, 1, 1, 0]}, None),
    ("conv2d_f32", [1, 1, 1], {}, r"attrs\.padding: expected int in \[0, 64\] or a list"),
    ("conv2d_f32", [0, True, 0, 0], {}, "got list"),
    ("conv2d_f32", [0, 1.5, 0, 0], {}, "got list"),
    ("conv2d_f32", [0, 0, -1, 0], {}, r"got \[0, 0, -1, 0\]"),
    ("conv2d_f32", [0, 0, 0, 65], {}, r"got \[0, 0, 0, 65\]"),
    ("conv2d_f32", [0, 0, 2**63, 0], {}, r"got \[0, 0, 9223372036854775808, 0\]"),
    ("conv2d_f32", "1", {}, "got str"),
    ("conv2d_f32", [0, 0, 0, 0], {"h": 2}, r"not fit the input 2x5 with padding \[0, 0, 0, 0\]"),
    ("maxpool_int8", [0, 1, 2, 1], {"kernel": 3}, r"padding \[0, 1, 2, 1\] exceeds half"),
    ("maxpool_packed", [1, 0, 0, 1], {"kernel": 2, "padding": [1, 0, 0, 1]}, None),
    ("bconv", [0, 0, 1, 0], {"pad_mode": "valid"}, "pad_mode 'valid' requires padding 0"),
])
def test_list_padding_rules_agree(op_type: str, value, options: dict, pattern: str | None
                                  ) -> None:
    """The list form of padding (format version 2): the native loader accepts and refuses
    what Python does, with the same message."""
    data = _with_padding(op_type, value, **options)
    py, nat = _python_error(data), _native_error(data)
    assert py == nat
    if pattern is None:
        assert py is None
    else:
        assert py is not None and re.search(pattern, py), py


def test_op_error_names_op_and_field() -> None:
    doc = json.loads(META[GRAPH_KEY])
    doc["graph"]["ops"][3]["attrs"]["stride"] = 0
    data = _with_meta(**{GRAPH_KEY: json.dumps(doc)})
    with pytest.raises(FormatError) as err:
        NativeModel.from_bytes(data)
    assert str(err.value) == _python_error(data)
    assert str(err.value).startswith("op #3 'block1.conv' (bconv): attrs.stride: expected int")
    assert err.value.field == "attrs.stride"


# -- engine == reference ------------------------------------------------------------------

def _same(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, what
    if expected.dtype == np.float32:
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op_type", sorted(SCHEMAS))
def test_every_op_type(op_type: str, isa: str) -> None:
    rng = np.random.default_rng(17)
    graph, tensors = op_case(op_type, rng)
    model = NativeModel.from_bytes(dumps(graph, tensors), 2, isa)
    x = random_input(rng, graph, 2)
    ref = run_all(graph, tensors, x)
    got = model.run_all(x)
    assert list(got) == [op.outputs[0] for op in graph.ops]
    for name, value in got.items():
        _same(value, ref[name], f"{name} on {isa}")
    _same(model.run(x), run(graph, tensors, x), f"logits on {isa}")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("make", [tiny_int8_model, tiny_float_model])
def test_tiny_models(make, isa: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    graph, tensors = make(rng)
    path = tmp_path / "m.bnn"
    path.write_bytes(dumps(graph, tensors))
    model = NativeModel.from_file(str(path), 3, isa)
    assert model.isa == isa and model.num_threads == 3
    assert [name for name, _ in model.ops] == [op.name for op in graph.ops]
    for batch in (1, 4):
        x = random_input(rng, graph, batch)
        logits, seconds = model.run_profiled(x)
        _same(logits, run(graph, tensors, x), f"batch {batch}")
        assert len(seconds) == len(model.steps) and min(seconds) >= 0
    for role_name in graph.param_names():
        np.testing.assert_array_equal(model.param(role_name), tensors[role_name])


# -- scale and arguments ------------------------------------------------------------------

def _long_chain(ops: int) -> bytes:
    """A float32 [N, 8] chain of `ops` ops (scale_bias and add_f32 in turn, each scale_bias
    with params of its own: `ops` container tensors), written without the Python validator."""
    x, doc_ops, tensors = "x", [], {}
    for i in range(ops):
        y = f"t{i}"
        if i % 2:
            doc_ops.append({"type": "add_f32", "name": f"op{i}", "inputs": [x, x],
                            "outputs": [y], "attrs": {}, "params": {}})
        else:
            doc_ops.append({"type": "scale_bias", "name": f"op{i}", "inputs": [x],
                            "outputs": [y], "attrs": {},
                            "params": {"scale": f"s{i}", "bias": f"b{i}"}})
            tensors[f"s{i}"] = np.full(8, 0.5, np.float32)  # x * 0.5 + 0, then x + x
            tensors[f"b{i}"] = np.zeros(8, np.float32)
        x = y
    graph = {"dataflow": "float", "metadata": {}, "ops": doc_ops,
             "input_spec": {"name": "x", "shape": [-1, 8], "dtype": "float32",
                            "normalisation": None, "quantisation": None, "description": ""},
             "output_spec": {"name": x, "classes": 8, "class_names": None}}
    doc = {"format_version": 1, "producer": "test", "graph": graph}
    return write_container(tensors, {VERSION_KEY: "1", GRAPH_KEY: json.dumps(doc)})


def test_16000_ops_open_fast() -> None:
    """Loading is linear in the graph: a 16,000-op file (16,000 tensors, 2.6 MB of JSON)
    opens in well under a second natively (docs/runtime.md has the figure; the bound here is
    loose)."""
    data = _long_chain(16_000)
    t0 = time.perf_counter()
    model = NativeModel.from_bytes(data)
    seconds = time.perf_counter() - t0
    assert seconds < 5.0, seconds
    assert len(model.steps) == 16_000 and model.arena_bytes_per_sample == 2 * 64
    x = np.ones((2, 8), np.float32)
    np.testing.assert_array_equal(model.run(x), np.ones((2, 8), np.float32))


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_threads"):
        NativeModel.from_bytes(DATA, 0)
    with pytest.raises(ValueError, match="isa must be one of"):
        NativeModel.from_bytes(DATA, 1, "sse2")
    missing = [i for i in ("scalar", "avx2", "avx512", "neon") if i not in ISAS]
    if missing:
        with pytest.raises(RuntimeError, match="not supported by this CPU"):
            NativeModel.from_bytes(DATA, 1, missing[0])
    with pytest.raises(OSError):
        NativeModel.from_file(str(tmp_path / "missing.bnn"))
    with pytest.raises(OSError, match="directory"):
        NativeModel.from_file(str(tmp_path))
    model = NativeModel.from_bytes(DATA)
    with pytest.raises(ValueError, match="expected dtype uint8"):
        model.run(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="batch must be >= 1"):
        model.run(np.zeros((0, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match=r"run_op 'stem.conv' \(conv2d_int8\): takes 1 inputs "
                       r"\(image\), got 2"):
        model.run_op(0, [np.zeros((1, 8, 8, 1), np.uint8)] * 2)
    with pytest.raises(ValueError, match=r"inputs\[0\] \(tensor 'image'\): expected shape "
                       r"\[N, 8, 8, 1\] uint8, got shape \[1, 8, 8, 2\]"):
        model.run_op(0, [np.zeros((1, 8, 8, 2), np.uint8)])
    with pytest.raises(ValueError, match="out of range"):
        model.run_op(99, [])
    with pytest.raises(ValueError, match="num_threads"):
        model.num_threads = 300
    model.num_threads = 4
    assert model.num_threads == 4


# -- one schema, two validators -------------------------------------------------------------

def _when(cond: Condition | tuple[str, tuple[str, ...]] | None) -> dict | None:
    """A Python condition as the native table reports it."""
    if cond is None:
        return None
    attr, values = (cond.attr, cond.values) if isinstance(cond, Condition) else cond
    return {"attr": attr, "in": list(values)}


def test_native_schemas_are_the_python_schemas() -> None:
    """The C++ validator's op table (engine/op_manifest.h, as compiled into the extension) and
    bnnflow.graph.SCHEMAS / fixedpoint.RULES (both built from bnnflow.graph.manifest) list the
    same ops in the same order with the same inputs, attrs (kind, range, choices, nullable,
    condition), params (dtypes, value range, condition), fixed-point rules, MACs and docs."""
    native = {s["type"]: s for s in _engine.native_op_schemas()}
    assert list(native) == list(SCHEMAS)
    for i, (name, schema) in enumerate(SCHEMAS.items()):
        n = native[name]
        assert (n["kind"], n["inputs"], n["macs"], n["doc"]) == (
            i, schema.inputs, schema.macs, schema.doc), name
        attrs = [(a["name"], a["kind"], a["lo"], a["hi"],
                  tuple(a["choices"]) if a["choices"] is not None else None, a["nullable"],
                  a["when"]) for a in n["attrs"]]
        assert attrs == [(k, a.kind, a.lo, a.hi, a.choices, a.nullable, _when(a.when))
                         for k, a in schema.attrs.items()], name
        params = [(p["role"], tuple(p["dtypes"]),
                   tuple(p["value_range"]) if p["value_range"] is not None else None, p["when"])
                  for p in n["params"]]
        assert params == [(r, p.dtypes, p.value_range, _when(p.when))
                          for r, p in schema.params.items()], name
        rule = fixedpoint.RULES.get(name)
        want = None if rule is None else {
            "bits": rule.accumulator.bits, "input_range": rule.accumulator.input_range,
            "branches": [{"mults": list(b.mults), "bias": b.bias, "formula": b.formula}
                         for b in rule.branches],
            "when": _when(rule.when)}
        assert n["fixed_point"] == want, name
