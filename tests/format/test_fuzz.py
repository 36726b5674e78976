"""Fuzzing the reader: flipped bytes, truncations, JSON mutations. Every outcome is either a
valid model or a FormatError; nothing else may escape. A file that loads also runs: an
Interpreter is built on it and runs one random input without any exception."""

from __future__ import annotations

import json
import struct

import numpy as np
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnflow import FormatError
from bnnflow.format import BnnFile, dumps, loads
from bnnflow.graph.examples import random_input, tiny_int8_model
from bnnflow.runtime import Interpreter

GRAPH, TENSORS = tiny_int8_model(np.random.default_rng(0))
DATA = dumps(GRAPH, TENSORS)
#: Mutated files whose activations exceed this per sample load but are not run (time/memory).
MAX_RUN_ELEMENTS = 1 << 22
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _outcome(data: bytes) -> str:
    try:
        model = loads(data)
    except FormatError as e:
        assert str(e)
        return "error"
    assert isinstance(model, BnnFile)
    if sum(info.sample_elements() for info in model.infos.values()) <= MAX_RUN_ELEMENTS:
        interp = Interpreter.from_graph(model.graph, model.tensors)
        x = random_input(np.random.default_rng(len(data)), model.graph, 1)
        logits = interp.run(x)
        assert logits.shape == (1, model.graph.output_spec.classes)
    return "ok"


@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, len(DATA) - 1), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_flipped_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(DATA)
    for pos, xor in flips:
        data[pos] ^= xor
    _outcome(bytes(data))


@SETTINGS
@given(pos=st.integers(0, 600), value=st.binary(min_size=1, max_size=4))
def test_header_overwrites(pos: int, value: bytes) -> None:
    """Bytes written into the JSON header (where flips hurt most)."""
    data = bytearray(DATA)
    data[8 + pos:8 + pos + len(value)] = value
    _outcome(bytes(data))


def test_truncation_at_every_step() -> None:
    step = max(1, len(DATA) // 400)
    for n in [*range(0, len(DATA), step), len(DATA) - 1]:
        assert _outcome(DATA[:n]) == "error", n
    assert _outcome(DATA) == "ok"


def test_appended_garbage() -> None:
    assert _outcome(DATA + b"\0") == "error"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4),
    max_leaves=10,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _split():
    n = struct.unpack("<Q", DATA[:8])[0]
    meta = json.loads(DATA[8:8 + n])["__metadata__"]
    return meta, safetensors.numpy.load(DATA)


META, RAW = _split()
DOC = json.loads(META["bnnflow.graph"])
PATHS = [p for p in _paths(DOC) if p]


@SETTINGS
@given(path=st.sampled_from(PATHS), action=st.sampled_from(["replace", "delete"]),
       value=_json)
def test_json_mutations(path: tuple, action: str, value) -> None:
    doc = json.loads(META["bnnflow.graph"])
    node = doc
    for key in path[:-1]:
        node = node[key]
    if action == "delete":
        del node[path[-1]]
    else:
        node[path[-1]] = value
    meta = {**META, "bnnflow.graph": json.dumps(doc)}
    _outcome(safetensors.numpy.save(dict(RAW), metadata=meta))


@SETTINGS
@given(name=st.sampled_from(sorted(RAW)), data=st.data())
def test_tensor_mutations(name: str, data) -> None:
    """Replace one param by an array of another dtype or shape, or random values."""
    raw = dict(RAW)
    arr = raw[name]
    kind = data.draw(st.sampled_from(["dtype", "shape", "values"]))
    if kind == "dtype":
        dt = data.draw(st.sampled_from(["int8", "uint8", "int16", "int32", "int64", "uint32",
                                        "float32"]))
        raw[name] = arr.astype(dt)
    elif kind == "shape":
        raw[name] = np.resize(arr, data.draw(st.lists(st.integers(0, 5), max_size=4)))
    else:
        bits = data.draw(st.binary(min_size=arr.nbytes, max_size=arr.nbytes))
        raw[name] = np.frombuffer(bits, arr.dtype).reshape(arr.shape).copy()
    _outcome(safetensors.numpy.save(raw, metadata=META))
