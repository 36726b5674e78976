"""The Larq Compute Engine importer (bnnflow.convert.lce) against LCE's own outputs.

The fixtures in data/lce/ were made by ``benchmarks/lce_make.py --fixtures`` in the LCE peer
environment: three small QuickNet-style larq models and one with RealToBinaryNet's blocks
(data-dependent scaling: LOGISTIC, MUL of two activations) at 32x32 (see ``tiny_model``
there), seeded random weights and calibrated random BatchNorm statistics, converted by LCE
0.16 (float inference), with LCE's interpreter outputs (``y``) and the Keras model's
(``keras``) on 16 random and 23 structured inputs. No TensorFlow is needed here.
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("tflite", reason="the importer needs the 'tflite' package (bnnflow[import])")

from bnnflow.convert.lce import TFLiteImportError, from_tflite
from bnnflow.convert.lce.importer import import_model
from bnnflow.convert.lce.ops_lce import packed_thresholds
from bnnflow.convert.lce.reader import read_tflite
from bnnflow.format import load, save
from bnnflow.graph import validate
from bnnflow.reference.interpreter import run as reference_run

DATA = os.path.join(os.path.dirname(__file__), "data", "lce")
FIXTURES = ["lce_tiny_a_float", "lce_tiny_b_float", "lce_tiny_d_float", "lce_tiny_r_float"]
#: Per input, logits agree when max |a − b| ≤ TOL × the logits' spread across inputs.
TOL = 1e-3


def _fixture(name: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    d = np.load(os.path.join(DATA, name + ".npz"))
    return os.path.join(DATA, name + ".tflite"), d["x"].astype(np.float32), d["y"], d["keras"]


def _agree(a: np.ndarray, b: np.ndarray, spread: float) -> np.ndarray:
    return np.abs(a - b).max(axis=1) <= TOL * spread


def _top1(z: np.ndarray) -> np.ndarray:
    return np.argmax(z - z.mean(axis=0), axis=1)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_matches_lce(name: str, tmp_path) -> None:
    """The imported model, on the reference and on the engine, gives LCE's logits: on every
    input it agrees with LCE or — where LCE's float32 rounding flipped a sign bit and LCE
    itself left the Keras model — with Keras; most inputs agree with LCE outright."""
    path, x, y, keras = _fixture(name)
    graph, tensors = from_tflite(path)
    spread = float((y - y.mean(axis=0)).std())
    z = reference_run(graph, tensors, x)
    with_lce, with_keras = _agree(z, y, spread), _agree(z, keras, spread)
    assert np.all(with_lce | with_keras), np.flatnonzero(~(with_lce | with_keras))
    assert with_lce.mean() >= 0.7
    assert (_top1(z) == _top1(y))[with_lce].all()
    out = tmp_path / "m.bnn"
    save(str(out), graph, tensors)
    g2, t2 = load(str(out))
    np.testing.assert_array_equal(reference_run(g2, t2, x[:4]), z[:4])


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_on_engine(name: str, tmp_path) -> None:
    """The engine agrees with the reference (float32 glue within 1e-4) and, like it, with LCE
    or Keras on every input. (Engine and reference sum floats in different orders, so on a
    chaotic model a near-zero sign may differ between them too: not every input is compared
    with the reference.)"""
    from bnnflow.runtime import Interpreter

    path, x, y, keras = _fixture(name)
    graph, tensors = from_tflite(path)
    save(str(tmp_path / "m.bnn"), graph, tensors)
    z_ref = reference_run(graph, tensors, x)
    z_eng = Interpreter(str(tmp_path / "m.bnn")).run(x)
    spread = float((y - y.mean(axis=0)).std())
    close = np.abs(z_eng - z_ref).max(axis=1) <= 1e-4 * max(spread, np.abs(z_ref).max())
    assert close.mean() >= 0.9, np.flatnonzero(~close)
    assert np.all(_agree(z_eng, y, spread) | _agree(z_eng, keras, spread))


def test_fixture_ops() -> None:
    """The fixtures exercise every LCE op mapping: float, bitpacked (with out_groups 2) and
    zero-padded binary convs, a binary max pool, grouped and strided valid binary convs; and
    the builtins around them, a channel PAD, SPLIT, a grouped CONV_2D, LOGISTIC and the MUL of
    two activations (a per-sample channel gate and a same-shape product) included."""
    seen = set()
    for name in FIXTURES:
        graph, tensors = from_tflite(_fixture(name)[0])
        infos = validate(graph, tensors)
        for op in graph.ops:
            a = op.attrs
            if op.type == "bconv":
                seen.add(f"bconv/{a['epilogue']}/{a['pad_mode']}/g{a['groups']}/s{a['stride']}")
                if a.get("clamp_lo") is not None:
                    seen.add("bconv/clamp")
            elif op.type == "mul_f32":
                a, b = (infos[i] for i in op.inputs)
                seen.add("mul_f32/" + ("same" if a.shape == b.shape else "gate"))
            else:
                seen.add(op.type)
    for want in ("bconv/float/one/g1/s1", "bconv/packed/one/g1/s1", "bconv/float/one/g2/s1",
                 "bconv/float/zero/g1/s1", "bconv/float/valid/g1/s2", "bconv/clamp",
                 "maxpool_packed", "pack", "conv2d_f32", "add_f32", "concat", "pwl_f32",
                 "avgpool_f32", "global_avgpool_f32", "flatten", "dense_f32", "sigmoid_f32",
                 "mul_f32/gate", "mul_f32/same"):
        assert want in seen, want
    codes = {op.code for name in FIXTURES for op in _model(name).ops}
    assert codes >= {"LceQuantize", "LceBconv2d", "LceBMaxPool2d", "CONV_2D",
                     "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D",
                     "MEAN", "RESHAPE", "CONCATENATION", "PAD", "SPLIT", "PRELU",
                     "LOGISTIC"}, codes


@given(st.integers(1, 4000), st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1,
                                      max_size=8))
def test_packed_thresholds(k: int, thresholds: list[int]) -> None:
    """LCE's bit = accum > thr equals bnnflow's bit = d < T, d = K − 2·accum, for every
    reachable accum in [0, K]."""
    thr = np.array(thresholds, np.int64)
    thr[: len(thr) // 2] %= k + 2  # half of them in (or next to) the reachable range
    t = packed_thresholds(thr, k).astype(np.int64)
    accum = np.arange(k + 1)[:, None]
    np.testing.assert_array_equal(accum > thr[None, :], (k - 2 * accum) < t[None, :])


def _model(name: str = "lce_tiny_a_float"):
    with open(_fixture(name)[0], "rb") as f:
        return read_tflite(f.read())


def test_unsupported_op_is_named() -> None:
    model = _model()
    model.ops[3].code = "TANH"
    with pytest.raises(TFLiteImportError, match=r"op #3 \(TANH\): this op has no bnnflow"):
        import_model(model)


def test_unsupported_attribute_is_named() -> None:
    model = _model()
    bconv = next(op for op in model.ops if op.code == "LceBconv2d")
    bconv.options["dilation_height_factor"] = 2
    bconv.options["dilation_width_factor"] = 2
    with pytest.raises(TFLiteImportError, match=rf"op #{bconv.index} \(LceBconv2d\): dilation"):
        import_model(model)
    model = _model("lce_tiny_b_float")
    pool = next(op for op in model.ops if op.code == "AVERAGE_POOL_2D")
    pool.options["Padding"] = 0  # SAME: 15x15 input, 2x2 window pads one row
    with pytest.raises(TFLiteImportError, match="AVERAGE_POOL_2D with SAME padding"):
        import_model(model)


@pytest.mark.parametrize("code", ["DEPTHWISE_CONV_2D", "LceQuantize", "RESHAPE"])
def test_split_output_read_by_other_op_is_refused(code: str) -> None:
    """A SPLIT output is a pending channel slice that only CONV_2D folds in; any other reader
    is refused by name (DEPTHWISE_CONV_2D and LceQuantize used to read the whole tensor)."""
    model = _model("lce_tiny_d_float")
    split = next(op for op in model.ops if op.code == "SPLIT")
    user = next(op for op in model.ops if split.outputs[0] in op.inputs)
    user.code = code
    with pytest.raises(TFLiteImportError,
                       match=rf"op #{user.index} \({code}\): input 0 is an output of SPLIT"):
        import_model(model)


def test_split_into_unequal_parts_is_refused() -> None:
    model = _model("lce_tiny_d_float")
    split = next(op for op in model.ops if op.code == "SPLIT")
    c = model.tensors[split.inputs[1]].shape[3]
    split.outputs = split.outputs + [split.outputs[0]] * (c + 1 - len(split.outputs))
    with pytest.raises(TFLiteImportError, match=rf"SPLIT of {c} channels into {c + 1} equal"):
        import_model(model)


def test_bconv_filter_words_must_divide() -> None:
    """An LceBconv2d filter whose words per tap do not divide channels_in's words (or are 0)
    is refused by name (0 used to be a ZeroDivisionError)."""
    for words in (0, 2):  # the fixture's first bconv: 32 channels, 1 word per tap
        model = _model()
        bconv = next(op for op in model.ops if op.code == "LceBconv2d")
        w = model.tensors[bconv.inputs[1]]
        w.data = np.repeat(w.data, 2, axis=3)[..., :words]
        w.shape = w.data.shape
        with pytest.raises(TFLiteImportError,
                           match=rf"op #{bconv.index} \(LceBconv2d\): filter .*{words} words"):
            import_model(model)


def test_bconv_filter_of_wrong_rank() -> None:
    model = _model()
    bconv = next(op for op in model.ops if op.code == "LceBconv2d")
    w = model.tensors[bconv.inputs[1]]
    w.data = w.data.reshape(w.shape[0], -1)
    w.shape = w.data.shape
    with pytest.raises(TFLiteImportError, match=rf"op #{bconv.index} \(LceBconv2d\): malformed"):
        import_model(model)


def test_whole_image_average_pool_is_a_global_mean() -> None:
    """larq-zoo's global pool (AVERAGE_POOL_2D over the whole input, read by
    FULLY_CONNECTED) imports as global_avgpool_f32; the strided 2x2 shortcut pool stays
    avgpool_f32; a whole-image pool read by an op that needs [N, 1, 1, C] (here a CONV_2D)
    keeps the 4-D avgpool_f32."""
    from bnnflow.convert.lce.importer import Value, _context
    from bnnflow.convert.lce.ops_builtin import _whole_image_mean

    graph, _ = from_tflite(_fixture("lce_tiny_r_float")[0])
    types = [op.type for op in graph.ops]
    assert types.count("global_avgpool_f32") == 4 and types.count("avgpool_f32") == 1
    model = _model("lce_tiny_r_float")
    pool = next(op for op in model.ops if op.code == "AVERAGE_POOL_2D"
                and model.tensors[op.outputs[0]].shape[1:3] == (1, 1))
    x = Value("x", "float32", model.tensors[pool.inputs[0]].shape)
    assert _whole_image_mean(_context(model), pool, x)
    next(op for op in model.ops if pool.outputs[0] in op.inputs).code = "CONV_2D"
    assert not _whole_image_mean(_context(model), pool, x)


def _activation_mul(model):
    """The MUL of the r fixture whose operands are an [N, H, W, C] activation and the
    [N, C] gate (RealToBinaryNet's scaling)."""
    shape = lambda i: model.tensors[i].shape  # noqa: E731
    return next(op for op in model.ops if op.code == "MUL"
                and len(shape(op.inputs[0])) != len(shape(op.inputs[1])))


def test_mul_gate_of_other_channel_count_is_refused() -> None:
    """A MUL of two activations that is neither same-shape nor a [N, 1, 1, C] channel gate
    (here a gate of another channel count) is refused by name, not broadcast."""
    model = _model("lce_tiny_r_float")
    mul = _activation_mul(model)
    other = next(op.outputs[0] for op in model.ops if op.code == "FULLY_CONNECTED"
                 and model.tensors[op.outputs[0]].shape[-1]
                 != model.tensors[mul.inputs[1]].shape[-1])
    mul.inputs = [mul.inputs[0], other]
    with pytest.raises(TFLiteImportError, match=rf"op #{mul.index} \(MUL\): operands .* MUL "
                       r"of two activations maps for one shape, or \[N, H, W, C\] times"):
        import_model(model)


def test_int8_model_is_refused() -> None:
    model = copy.deepcopy(_model())
    model.tensors[model.inputs[0]].dtype = np.int8
    with pytest.raises(TFLiteImportError, match="int8-inference models are not imported"):
        import_model(model)


@pytest.mark.parametrize("code", ["QUANTIZE", "DEQUANTIZE"])
def test_int8_op_inside_a_float_model_is_refused(code: str) -> None:
    """A float-input file with int8 ops inside reaches a QUANTIZE / DEQUANTIZE: refused by
    name, pointing at docs/import.md."""
    model = _model()
    model.ops[1].code = code
    with pytest.raises(TFLiteImportError, match=rf"op #1 \({code}\): int8-inference models "
                       "are not imported .*docs/import.md says why"):
        import_model(model)


def test_quantized_constant_is_refused() -> None:
    """An int8-quantized weight in a float graph (hybrid or int8 quantization) is refused by
    name, not read as float weights without its scale."""
    model = copy.deepcopy(_model())
    conv = next(op for op in model.ops if op.code == "CONV_2D")
    w = model.tensors[conv.inputs[1]]
    w.data = np.clip(np.round(w.data * 20), -127, 127).astype(np.int8)
    w.dtype, w.scale, w.zero_point = np.int8, np.array([0.05], np.float32), np.zeros(1, np.int64)
    with pytest.raises(TFLiteImportError, match=rf"op #{conv.index} \(CONV_2D\): input 1 .* is "
                       r"an int8 quantized constant: int8 \(and hybrid\) quantized ops are not"):
        import_model(model)


def test_not_a_tflite_file() -> None:
    with pytest.raises(TFLiteImportError, match="not a TFLite flatbuffer"):
        from_tflite(b"PK\x03\x04 not a flatbuffer")


def _model_with_subgraphs(n: int) -> bytes:
    """A minimal TFLite flatbuffer of ``n`` empty subgraphs."""
    import flatbuffers
    import tflite

    b = flatbuffers.Builder(256)
    subs = []
    for _ in range(n):
        tflite.SubGraphStart(b)
        subs.append(tflite.SubGraphEnd(b))
    tflite.ModelStartSubgraphsVector(b, n)
    for s in reversed(subs):
        b.PrependUOffsetTRelative(s)
    vec = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.mark.parametrize("n", [0, 2])
def test_subgraph_count_is_checked(n: int) -> None:
    with pytest.raises(TFLiteImportError, match=f"the model has {n} subgraphs"):
        from_tflite(_model_with_subgraphs(n))


@pytest.mark.parametrize("cut", [12, 100, 5000, 0.5, 0.99])
def test_truncated_file(cut: float) -> None:
    """A truncated file is a TFLiteImportError, not a struct.error from the accessors."""
    with open(_fixture("lce_tiny_a_float")[0], "rb") as f:
        data = f.read()
    n = int(cut * len(data)) if cut < 1 else int(cut)
    with pytest.raises(TFLiteImportError, match=r"truncated or corrupt|needs .* bytes"):
        from_tflite(data[:n])


def test_corrupt_bytes_never_crash() -> None:
    """20 random bytes changed in a valid file, 300 seeded times: imported, or a
    TFLiteImportError (never another exception type). Seeded rather than a hypothesis
    property: a changed activation shape can ask for a huge (slow) weight widening."""
    good = _fixture_bytes()
    rng = np.random.default_rng(0)
    for _ in range(300):
        data = bytearray(good)
        for i in rng.integers(8, len(data), 20):
            data[i] = int(rng.integers(0, 256))
        with contextlib.suppress(TFLiteImportError):
            from_tflite(bytes(data))


def _fixture_bytes() -> bytes:
    with open(_fixture("lce_tiny_a_float")[0], "rb") as f:
        return f.read()


def test_tensor_index_out_of_range() -> None:
    from bnnflow.convert.lce.reader import _check_indices

    model = _model()
    model.ops[2].inputs[0] = len(model.tensors) + 5
    with pytest.raises(TFLiteImportError, match=r"op #2 .*input 0 names tensor index"):
        _check_indices(model)


def test_malformed_op_is_named() -> None:
    """A CONV_2D whose filter is not 4-D: the op is named, not a bare unpacking error."""
    model = _model()
    conv = next(op for op in model.ops if op.code == "CONV_2D")
    w = model.tensors[conv.inputs[1]]
    w.data = w.data.reshape(w.data.shape[0], -1)
    w.shape = w.data.shape
    with pytest.raises(TFLiteImportError, match=rf"op #{conv.index} \(CONV_2D\): malformed"):
        import_model(model)


def test_cli_import(tmp_path) -> None:
    out = tmp_path / "tiny.bnn"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "bnnflow.cli.main", "import",
                        _fixture("lce_tiny_b_float")[0], "-o", str(out)],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and out.exists()
    graph, _ = load(str(out))
    assert graph.output_spec.classes == 10
    bad = subprocess.run([sys.executable, "-m", "bnnflow.cli.main", "import",
                          str(tmp_path / "missing.tflite"), "-o", str(out)],
                         capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2 and "no such file" in bad.stderr
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(_fixture_bytes()[:4000])
    r = subprocess.run([sys.executable, "-m", "bnnflow.cli.main", "import", str(cut), "-o",
                        str(out)], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 2 and "truncated or corrupt" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_cli_import_unreadable_file(tmp_path, monkeypatch) -> None:
    """An OSError reading the model is a usage error naming the file, not a traceback."""
    import argparse

    import bnnflow.convert.lce as lce
    from bnnflow.cli.cmd_import import run
    from bnnflow.cli.main import UsageError

    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    monkeypatch.setattr(lce, "from_tflite", unreadable)
    args = argparse.Namespace(model=str(model), output=str(tmp_path / "m.bnn"), to_torch=False)
    with pytest.raises(UsageError, match=r"m\.tflite: cannot be read \(Permission denied\)"):
        run(args)


def test_lce_dequantize_of_bitpacked_bconv() -> None:
    """LceDequantize after a bitpacked LceBconv2d gives the ±1 of its bits: the fixture cut
    after its first bitpacked bconv, with LceDequantize and a spatial MEAN appended, equals
    the mean of ±1 unpacked from that bconv's packed output in the uncut model."""
    from bnnflow.convert.lce.reader import TfOp, TfTensor
    from bnnflow.reference.interpreter import run_all
    from bnnflow.reference.pack import to_pm1, unpack_bits

    path, x, _, _ = _fixture("lce_tiny_a_float")
    full, full_t = from_tflite(path)
    model = _model()
    cut = next(op for op in model.ops
               if op.code == "LceBconv2d" and model.tensors[op.outputs[0]].dtype is np.int32)
    n, h, w, _ = model.tensors[cut.outputs[0]].shape
    c = int(model.tensors[cut.inputs[1]].shape[0])
    k = len(model.tensors)
    model.tensors += [TfTensor(k, "deq", (n, h, w, c), np.float32),
                      TfTensor(k + 1, "axes", (2,), np.int32, np.array([1, 2], np.int32)),
                      TfTensor(k + 2, "mean", (n, c), np.float32)]
    model.ops = [*model.ops[: cut.index + 1],
                 TfOp(cut.index + 1, "LceDequantize", [cut.outputs[0]], [k]),
                 TfOp(cut.index + 2, "MEAN", [k, k + 1], [k + 2], {"KeepDims": False})]
    model.outputs = [k + 2]
    graph, tensors = import_model(model)
    assert [op.type for op in graph.ops[-3:]] == ["bconv", "pwl_f32", "global_avgpool_f32"]
    z = reference_run(graph, tensors, x)
    packed_op = full.ops[len(graph.ops) - 3]
    assert packed_op.type == "bconv" and packed_op.attrs["epilogue"] == "packed"
    words = run_all(full, full_t, x)[packed_op.outputs[0]]
    pm1 = to_pm1(unpack_bits(words, c, packed_op.attrs["out_groups"]))
    assert np.abs(z).max() > 0.1  # not all balanced
    np.testing.assert_allclose(z, pm1.mean(axis=(1, 2)), rtol=0, atol=1e-6)
