"""Read a TFLite flatbuffer (``.tflite``) into plain Python objects.

The flatbuffer is parsed with the ``tflite`` package (the generated TFLite schema, from PyPI;
``pip install bnnflow[import]``); the custom options of Larq Compute Engine's ops are
flexbuffers maps, read with ``flatbuffers.flexbuffers``. A model must have exactly one
subgraph (LCE writes one; control flow such as ``WHILE`` adds more and is refused).

The generated flatbuffer accessors trust the file: on a truncated or corrupt one they raise
``struct.error``, ``IndexError`` and the like from deep inside. :func:`read_tflite` turns
those into a :class:`TFLiteImportError` saying which part of the file could not be read, and
checks what the importer relies on (tensor indices in range, constant sizes matching shapes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnnflow.convert.lce.errors import TFLiteImportError

# TFLite TensorType → numpy dtype (the ones LCE models use).
_DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8,
           6: np.bool_}


@dataclass
class TfTensor:
    """One tensor of the subgraph: shape, dtype, per-tensor or per-axis quantisation and, for
    a constant, its data."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any
    data: np.ndarray | None = None
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None

    @property
    def quantised(self) -> bool:
        return self.scale is not None and self.scale.size > 0


@dataclass
class TfOp:
    """One operator: its code (builtin name or LCE custom code), index in the subgraph, input
    and output tensor indices (-1: an optional input left out), and its options as a dict."""

    index: int
    code: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TfModel:
    tensors: list[TfTensor]
    ops: list[TfOp]
    inputs: list[int]
    outputs: list[int]


def _tflite() -> Any:
    try:
        import tflite
    except ModuleNotFoundError as err:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            "importing .tflite files needs the 'tflite' package: pip install 'bnnflow[import]'"
        ) from err
    return tflite


def read_tflite(data: bytes) -> TfModel:
    """Parse ``data`` (the bytes of a ``.tflite`` file). Raises TFLiteImportError for a file that is
    not a TFLite model."""
    tfl = _tflite()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TFLiteImportError(-1, "<file>", "not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        parsed = _read(tfl, data)
    except TFLiteImportError:
        raise
    except _CORRUPT as err:
        raise TFLiteImportError(-1, "<file>", f"truncated or corrupt TFLite flatbuffer "
                                f"({len(data)} bytes; {type(err).__name__}: {err})") from err
    _check_indices(parsed)
    return parsed


#: What the flatbuffers accessors and numpy raise on a truncated or corrupt file.
_CORRUPT = (struct.error, IndexError, TypeError, ValueError, UnicodeDecodeError, OverflowError,
            MemoryError)


def _read(tfl: Any, data: bytes) -> TfModel:
    model = tfl.Model.GetRootAsModel(data, 0)
    n = model.SubgraphsLength()
    if n != 1:
        raise TFLiteImportError(-1, "<file>", f"the model has {n} subgraphs; only models with "
                                "exactly one import (control flow such as WHILE or IF is not "
                                "supported)")
    sub = model.Subgraphs(0)
    tensors = [_tensor(tfl, model, sub.Tensors(i), i) for i in range(sub.TensorsLength())]
    names = {v: k for k, v in vars(tfl.BuiltinOperator).items() if isinstance(v, int)}
    ops = [_op(tfl, model, sub.Operators(i), i, names) for i in range(sub.OperatorsLength())]
    ins = [int(i) for i in sub.InputsAsNumpy()] if sub.InputsLength() else []
    outs = [int(i) for i in sub.OutputsAsNumpy()] if sub.OutputsLength() else []
    return TfModel(tensors, ops, ins, outs)


def _check_indices(model: TfModel) -> None:
    """Every tensor index the ops and the subgraph name is in range (-1 only for an op's
    optional input)."""
    n = len(model.tensors)
    for what, idx in (("input", model.inputs), ("output", model.outputs)):
        bad = [i for i in idx if not 0 <= i < n]
        if bad:
            raise TFLiteImportError(-1, "<file>", f"subgraph {what} tensor index {bad[0]} is "
                                    f"out of range ({n} tensors)")
    for op in model.ops:
        for what, idx, lo in (("input", op.inputs, -1), ("output", op.outputs, 0)):
            for pos, i in enumerate(idx):
                if not lo <= i < n:
                    raise TFLiteImportError(op.index, op.code, f"{what} {pos} names tensor "
                                            f"index {i}, out of range ({n} tensors)")


def _tensor(tfl: Any, model: Any, t: Any, index: int) -> TfTensor:
    dtype = _DTYPES.get(t.Type())
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    name = t.Name().decode(errors="replace") if t.Name() else f"t{index}"
    data = None
    buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
    if buf is not None and buf.DataLength() > 0:
        if dtype is None:
            raise TFLiteImportError(-1, name, f"constant of TFLite type {t.Type()} is not read")
        raw = buf.DataAsNumpy().tobytes()
        want = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if any(d < 0 for d in shape) or len(raw) != want:
            raise TFLiteImportError(-1, name, f"constant tensor #{index} of shape {list(shape)} "
                                    f"({np.dtype(dtype).name}) needs {want} bytes, its buffer "
                                    f"has {len(raw)} (corrupt file)")
        data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()
    scale = zp = None
    q = t.Quantization()
    if q is not None and q.ScaleLength() > 0:
        scale = q.ScaleAsNumpy().astype(np.float64)
        zp = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(1, int)
    return TfTensor(index, name, shape, dtype, data, scale, zp)


def _op(tfl: Any, model: Any, op: Any, index: int, names: dict[int, str]) -> TfOp:
    oc = model.OperatorCodes(op.OpcodeIndex())
    custom = oc.CustomCode()
    if custom:
        code = custom.decode()
        options = _custom_options(op, index, code)
    else:
        code = names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "?")
        options = _builtin_options(tfl, op, code)
    ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
    outs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
    return TfOp(index, code, ins, outs, options)


def _custom_options(op: Any, index: int, code: str) -> dict[str, Any]:
    if op.CustomOptionsLength() == 0:
        return {}
    from flatbuffers import flexbuffers

    raw = op.CustomOptionsAsNumpy().tobytes()
    try:
        value = flexbuffers.Loads(raw)
    except Exception as err:  # flexbuffers raises plain exceptions on bad input
        raise TFLiteImportError(index, code, f"unreadable custom options ({err})") from err
    if not isinstance(value, dict):
        raise TFLiteImportError(index, code, "custom options are not a flexbuffers map")
    return value


# builtin op → (options class name, fields read)
_OPTIONS = {
    "CONV_2D": ("Conv2DOptions", ("Padding", "StrideW", "StrideH", "DilationWFactor",
                                  "DilationHFactor", "FusedActivationFunction")),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", ("Padding", "StrideW", "StrideH",
                                                      "DepthMultiplier", "DilationWFactor",
                                                      "DilationHFactor",
                                                      "FusedActivationFunction")),
    "FULLY_CONNECTED": ("FullyConnectedOptions", ("FusedActivationFunction", "KeepNumDims")),
    "ADD": ("AddOptions", ("FusedActivationFunction",)),
    "MUL": ("MulOptions", ("FusedActivationFunction",)),
    "SUB": ("SubOptions", ("FusedActivationFunction",)),
    "MAX_POOL_2D": ("Pool2DOptions", ("Padding", "StrideW", "StrideH", "FilterWidth",
                                      "FilterHeight", "FusedActivationFunction")),
    "AVERAGE_POOL_2D": ("Pool2DOptions", ("Padding", "StrideW", "StrideH", "FilterWidth",
                                          "FilterHeight", "FusedActivationFunction")),
    "CONCATENATION": ("ConcatenationOptions", ("Axis", "FusedActivationFunction")),
    "MEAN": ("ReducerOptions", ("KeepDims",)),
    "LEAKY_RELU": ("LeakyReluOptions", ("Alpha",)),
    "SOFTMAX": ("SoftmaxOptions", ("Beta",)),
}


def _builtin_options(tfl: Any, op: Any, code: str) -> dict[str, Any]:
    spec = _OPTIONS.get(code)
    table = op.BuiltinOptions()
    if spec is None or table is None:
        return {}
    opts = getattr(tfl, spec[0])()
    opts.Init(table.Bytes, table.Pos)
    return {f: getattr(opts, f)() for f in spec[1]}
