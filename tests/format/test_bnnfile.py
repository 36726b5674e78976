"""Round trip and every error path of the .bnn reader/writer."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from bnnflow import FormatError
from bnnflow.format import (
    FORMAT_VERSION,
    PRODUCER,
    dumps,
    file_kind,
    load,
    loads,
    read,
    save,
)
from bnnflow.graph.examples import op_case, random_input, tiny_float_model, tiny_int8_model
from bnnflow.reference.interpreter import run

FIXTURES = Path(__file__).parents[1] / "cpp" / "engine" / "data"

VERSION_KEY, GRAPH_KEY = "bnnflow.format_version", "bnnflow.graph"


def _model(seed: int = 0):
    return tiny_int8_model(np.random.default_rng(seed))


def _parts(data: bytes) -> tuple[dict, dict]:
    """(metadata, tensors) of a valid container, via safetensors itself."""
    n = struct.unpack("<Q", data[:8])[0]
    meta = json.loads(data[8:8 + n])["__metadata__"]
    return meta, safetensors.numpy.load(data)


def _with_doc(data: bytes, mutate) -> bytes:
    meta, tensors = _parts(data)
    doc = json.loads(meta[GRAPH_KEY])
    mutate(doc)
    meta[GRAPH_KEY] = json.dumps(doc)
    return safetensors.numpy.save(tensors, metadata=meta)


@pytest.mark.parametrize("model", [tiny_int8_model, tiny_float_model])
def test_round_trip(tmp_path: Path, model) -> None:
    graph, tensors = model(np.random.default_rng(3))
    path = tmp_path / "m.bnn"
    save(path, graph, tensors, extras={"accuracy": 0.98, "recipe": {"epochs": 3}})
    g2, t2 = load(path)
    expected = graph.to_json()
    expected["metadata"] = {"accuracy": 0.98, "recipe": {"epochs": 3}}
    assert g2.to_json() == expected
    assert set(t2) == set(tensors)
    for k, v in tensors.items():
        assert t2[k].dtype == v.dtype and t2[k].shape == v.shape
        np.testing.assert_array_equal(t2[k], v)
        assert t2[k].flags.c_contiguous and t2[k].flags.aligned and t2[k].flags.writeable
    model_file = read(path)
    assert model_file.format_version == 1  # no list padding: still version 1
    assert model_file.producer == PRODUCER
    assert model_file.infos[graph.output_spec.name].shape == (-1, graph.output_spec.classes)


def test_file_has_no_pickle_and_is_plain_safetensors(tmp_path: Path) -> None:
    graph, tensors = _model()
    data = dumps(graph, tensors)
    meta, raw = _parts(data)
    assert meta[VERSION_KEY] == "1"
    doc = json.loads(meta[GRAPH_KEY])
    assert doc["producer"] == PRODUCER and doc["format_version"] == 1
    assert set(raw) == set(tensors)


def test_save_validates_first(tmp_path: Path) -> None:
    graph, tensors = _model()
    graph.ops[3].attrs["stride"] = 0
    path = tmp_path / "bad.bnn"
    with pytest.raises(FormatError, match=r"'block1\.conv' \(bconv\): attrs\.stride"):
        save(path, graph, tensors)
    assert not path.exists()


@pytest.mark.parametrize(("bad", "pattern"), [
    (np.zeros(3, np.float64), "float64"),
    ([1, 2, 3], "list"),
])
def test_save_rejects_bad_tensors(bad, pattern: str) -> None:
    graph, tensors = _model()
    tensors["stem.conv.bias"] = bad
    with pytest.raises(FormatError, match=pattern):
        dumps(graph, tensors)


def test_save_rejects_non_json_metadata() -> None:
    graph, tensors = _model()
    with pytest.raises(FormatError, match="JSON"):
        dumps(graph, tensors, extras={"x": float("nan")})
    with pytest.raises(FormatError, match="JSON"):
        dumps(graph, tensors, extras={"x": object()})


# -- container-level errors ---------------------------------------------------------------

def _header(obj) -> bytes:
    text = json.dumps(obj).encode()
    return struct.pack("<Q", len(text)) + text


@pytest.mark.parametrize(("data", "pattern"), [
    (b"", "shorter than the 8-byte"),
    (b"abc", "shorter than the 8-byte"),
    (b"hello world, not a model", "header length .* is absurd"),
    (struct.pack("<Q", 1 << 60) + b"{}", "absurd"),
    (struct.pack("<Q", 100) + b"{}", "truncated file: header length 100"),
    (struct.pack("<Q", 4) + b"{]}x", "not valid JSON"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not valid JSON"),
    (_header([1, 2]), "expected a JSON object"),
    (_header({"__metadata__": {"a": 1}}), "__metadata__ must map strings to strings"),
    (_header({"t": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}) + bytes(8),
     "dtype 'F64'"),
    (_header({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}),
     "outside the 0-byte data region"),
    (_header({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}) + bytes(4),
     "4 bytes of data for shape"),
    (_header({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}) + bytes(4),
     "non-negative ints"),
    (_header({"t": {"dtype": "F32", "shape": [1 << 39, 1 << 39], "data_offsets": [0, 4]}})
     + bytes(4), "bytes of data for shape"),
    (_header({"t": {"dtype": "F32", "shape": [1]}}) + bytes(4), "exactly dtype"),
    (_header({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
              "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}) + bytes(3),
     "overlap"),
    (_header({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}) + bytes(5),
     "trailing bytes"),
    (_header({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}) + bytes(1),
     "not a bnnflow file"),
    (b"[" * 5000 + b"]" * 5000, "absurd"),
])
def test_container_errors(data: bytes, pattern: str) -> None:
    with pytest.raises(FormatError, match=pattern):
        loads(data)


def test_deeply_nested_header_json() -> None:
    text = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(FormatError, match="JSON"):
        loads(struct.pack("<Q", len(text)) + text)


def test_not_a_file_of_ours(tmp_path: Path) -> None:
    path = tmp_path / "x.bnn"
    path.write_text("just some text that is long enough\n" * 10)
    with pytest.raises(FormatError):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.bnn")


# -- metadata / graph document errors ------------------------------------------------------

def _with_meta(data: bytes, **changes) -> bytes:
    meta, tensors = _parts(data)
    meta.update(changes)
    return safetensors.numpy.save(tensors, metadata=meta)


def test_version_errors() -> None:
    data = dumps(*_model())
    with pytest.raises(FormatError, match=r"format version 3 is not supported .*versions 1, 2"):
        loads(_with_meta(data, **{VERSION_KEY: "3"}))
    with pytest.raises(FormatError, match=r"format version 0 is not supported"):
        loads(_with_meta(data, **{VERSION_KEY: "0"}))
    with pytest.raises(FormatError, match="not an integer"):
        loads(_with_meta(data, **{VERSION_KEY: "1.0"}))
    with pytest.raises(FormatError, match="differs from"):
        loads(_with_doc(data, lambda d: d.update(format_version=True)))
    with pytest.raises(FormatError, match="producer"):
        loads(_with_doc(data, lambda d: d.update(producer=3)))
    with pytest.raises(FormatError, match="exactly format_version, producer, graph"):
        loads(_with_doc(data, lambda d: d.pop("producer")))
    with pytest.raises(FormatError, match=r"bnnflow\.graph is not valid JSON"):
        loads(_with_meta(data, **{GRAPH_KEY: "{"}))
    with pytest.raises(FormatError, match="non-finite"):
        loads(_with_meta(data, **{GRAPH_KEY: '{"format_version": NaN}'}))


def _set(path: list, value):
    def mutate(doc):
        node = doc["graph"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


@pytest.mark.parametrize(("path", "value", "pattern"), [
    (["ops", 0, "type"], "conv3d", "unknown op type 'conv3d'"),
    (["ops", 0, "attrs", "stride"], 0, r"'stem\.conv' \(conv2d_int8\): attrs\.stride"),
    (["ops", 0, "attrs", "groups"], 2, r"'stem\.conv' .*attrs\.groups: unknown attr"),
    (["ops", 3, "params", "weights"], "nope", r"'block1\.conv' .*params\.weights: .*'nope'"),
    (["ops", 3, "params", "weights"], 5, r"params\.weights: expected a non-empty string"),
    (["ops", 3, "inputs"], ["block1.prelu"], "used before it is defined"),
    (["ops", 3, "inputs"], "block1.sign", "expected a list"),
    (["ops", 3, "extra"], 1, "unknown field"),
    (["ops"], [], "1 to"),
    (["dataflow"], "int4", "graph.dataflow"),
    (["output_spec", "name"], "block1.conv", "expected float32"),
    (["output_spec", "class_names"], ["a"], "1 names for 10 classes"),
    (["output_spec", "classes"], 0, "output_spec.classes"),
    (["input_spec", "shape"], [1, 8, 8, 1], "batch"),
    (["input_spec", "shape"], [-1, 8, 8], "2 or 4 dims"),
    (["input_spec", "shape"], [-1, 100000, 100000, 100], "elements per sample"),
    (["input_spec", "dtype"], "int16", "input_spec.dtype"),
    (["input_spec", "normalisation"], [1], "expected an object or null"),
    (["metadata"], {"a": [[[1e400]]]}, "non-finite"),
])
def test_graph_document_errors(path: list, value, pattern: str) -> None:
    data = dumps(*_model())
    with pytest.raises(FormatError, match=pattern):
        loads(_with_doc(data, _set(path, value)))


def test_param_tensor_errors() -> None:
    graph, tensors = _model()
    data = dumps(graph, tensors)
    meta, raw = _parts(data)
    raw = dict(raw)
    raw["block1.conv.s"] = np.full(32, 31, np.int8)
    with pytest.raises(FormatError, match=r"'block1\.conv' \(bconv\): params\.s: .*\[31, 31\]"):
        loads(safetensors.numpy.save(raw, metadata=meta))
    raw["block1.conv.s"] = np.zeros(31, np.int8)
    with pytest.raises(FormatError, match=r"params\.s: .*shape \[31\], expected \[32\]"):
        loads(safetensors.numpy.save(raw, metadata=meta))
    raw["block1.conv.s"] = np.zeros(32, np.int16)
    with pytest.raises(FormatError, match=r"params\.s: .*dtype int16"):
        loads(safetensors.numpy.save(raw, metadata=meta))
    del raw["block1.conv.s"]
    with pytest.raises(FormatError, match="not in the container"):
        loads(safetensors.numpy.save(raw, metadata=meta))


def test_every_op_type_round_trips() -> None:
    from bnnflow.graph import SCHEMAS

    for op_type in SCHEMAS:
        graph, tensors = op_case(op_type, np.random.default_rng(1))
        model = loads(dumps(graph, tensors))
        assert model.graph.to_json() == graph.to_json(), op_type


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """save writes a temp file in the same directory and renames it: a failed write leaves
    the old file and no partial or temporary file behind."""
    graph, tensors = _model()
    path = tmp_path / "m.bnn"
    save(path, graph, tensors)
    before = path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("bnnflow.format.bnnfile.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save(path, graph, tensors, extras={"changed": True})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bnn"]


def test_save_into_missing_directory_writes_nothing(tmp_path: Path) -> None:
    graph, tensors = _model()
    with pytest.raises(FileNotFoundError):
        save(tmp_path / "no" / "m.bnn", graph, tensors)
    assert list(tmp_path.iterdir()) == []


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(("head", "kind"), [
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "zip"),  # torch.save (zip archive)
    (b"\x80\x02\x8a\x0alc\xfc\x9cF\xf9 j\xa8", "pickle"),  # legacy torch.save
])
def test_torch_checkpoint_gets_the_export_hint(tmp_path: Path, head: bytes, kind: str) -> None:
    data = head + bytes(200)
    with pytest.raises(FormatError, match=rf"PyTorch checkpoint \({kind}\).*bnnflow export"):
        loads(data)
    path = tmp_path / "ck.pt"
    path.write_bytes(data)
    assert file_kind(path) == "torch"
    with pytest.raises(FormatError, match="bnnflow export"):
        load(path)


def test_file_kind(tmp_path: Path) -> None:
    graph, tensors = _model()
    save(tmp_path / "m.bnn", graph, tensors)
    (tmp_path / "junk").write_bytes(b"hello")
    assert file_kind(tmp_path / "m.bnn") == "safetensors"
    assert file_kind(tmp_path) == "directory"
    assert file_kind(tmp_path / "none") == "missing"
    assert file_kind(tmp_path / "junk") == "unknown"


def test_header_length_that_looks_like_pickle_still_loads() -> None:
    """A valid .bnn whose header length starts with the bytes of a pickle opcode (0x80 0x02)
    is a .bnn: the safetensors test comes first."""
    graph, tensors = _model()
    data = dumps(graph, tensors)
    n = struct.unpack("<Q", data[:8])[0]
    header = data[8:8 + n].rstrip()
    header += b" " * ((0x0280 - len(header)) % 0x10000)  # length ≡ 0x0280 (mod 2^16)
    new = struct.pack("<Q", len(header)) + header + data[8 + n:]
    assert new[:2] == b"\x80\x02"
    assert loads(new).graph.ops == loads(data).graph.ops


@pytest.mark.parametrize("name", ["tiny_int8", "tiny_float"])
def test_version_1_fixtures_load_rewrite_identically_and_run_unchanged(name: str) -> None:
    """Files of format version 1 (committed before version 2 existed) still load, are written
    back with the same metadata strings and tensors (no list padding: version 1; the container's
    key order is the safetensors writer's), and give their committed logits."""
    data = (FIXTURES / f"{name}.bnn").read_bytes()
    model = loads(data)
    assert model.format_version == 1
    meta, raw = _parts(data)
    meta2, raw2 = _parts(dumps(model.graph, model.tensors))
    assert meta2 == meta and meta[VERSION_KEY] == "1"
    assert raw2.keys() == raw.keys()
    for k, v in raw.items():
        assert raw2[k].dtype == v.dtype and raw2[k].tobytes() == v.tobytes()
    dtype = np.dtype(model.graph.input_spec.dtype)
    x = np.frombuffer((FIXTURES / f"{name}.input").read_bytes(), dtype)
    x = x.reshape(-1, *model.graph.input_spec.shape[1:])
    expected = np.frombuffer((FIXTURES / f"{name}.logits").read_bytes(), "<f4")
    np.testing.assert_array_equal(run(model.graph, model.tensors, x).ravel(), expected)


def test_list_padding_is_written_as_version_2() -> None:
    graph, tensors = op_case("conv2d_f32", np.random.default_rng(0), kernel=3, stride=2,
                             padding=[0, 0, 1, 1], h=6, w=6)
    data = dumps(graph, tensors)
    meta, _ = _parts(data)
    assert meta[VERSION_KEY] == str(FORMAT_VERSION) == "2"
    assert json.loads(meta[GRAPH_KEY])["format_version"] == 2
    model = loads(data)
    (op,) = [o for o in model.graph.ops if o.name == "op"]
    assert model.format_version == 2 and op.attrs["padding"] == [0, 0, 1, 1]
    x = random_input(np.random.default_rng(1), graph, 2)
    np.testing.assert_array_equal(run(model.graph, model.tensors, x), run(graph, tensors, x))
    # the same graph with symmetric padding stays version 1
    (op,) = [o for o in graph.ops if o.name == "op"]
    op.attrs["padding"] = 1
    assert _parts(dumps(graph, tensors))[0][VERSION_KEY] == "1"
