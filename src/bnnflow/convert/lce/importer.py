"""Import a Larq Compute Engine ``.tflite`` file into a bnnflow graph (docs/import.md).

``from_tflite(path)`` reads the flatbuffer (:mod:`bnnflow.convert.lce.reader`), walks its ops
in file order (TFLite writes them topologically sorted) and emits the IR ops of docs/format.md
through a :class:`~bnnflow.graph.builder.GraphBuilder`: LCE's binary ops map to ``pack``,
``bconv`` and ``maxpool_packed`` (:mod:`bnnflow.convert.lce.ops_lce`), the TFLite builtins
around them to the float32 ops (:mod:`bnnflow.convert.lce.ops_builtin`). The result is
validated (``bnnflow.graph.validate``) before it is returned. Needs the ``tflite`` package
(``pip install 'bnnflow[import]'``), not TensorFlow and not torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnnflow.convert.lce.errors import TFLiteImportError
from bnnflow.convert.lce.reader import TfModel, TfOp, TfTensor, read_tflite
from bnnflow.errors import FormatError
from bnnflow.graph import Graph, InputSpec, validate
from bnnflow.graph.builder import GraphBuilder


@dataclass
class Value:
    """A TFLite tensor as the importer sees it in the bnnflow graph.

    ``kind`` is ``float32`` or ``packed``; ``shape`` is the TFLite (NHWC) shape with the real
    channel count (also for packed); ``producer`` the index in ``ctx.builder.ops`` of the op
    that writes it (``None`` for the graph input); ``pad`` a pending explicit PAD
    ``((top, bottom), (left, right))`` that the consuming op must fold in; ``slice`` a
    pending channel range ``(start, stop, channels of name)`` of ``name`` (an output of SPLIT)
    that only a ``CONV_2D`` can read (its weights widened with zeros to all channels).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    producer: int | None = None
    pad: tuple[tuple[int, int], tuple[int, int]] | None = None
    slice: tuple[int, int, int] | None = None


@dataclass
class Context:
    """The state of one import: the parsed model, the builder, the values made so far, and for
    every TFLite tensor the ops that read it and the groups its packed form must have."""

    model: TfModel
    builder: GraphBuilder
    values: dict[int, Value] = field(default_factory=dict)
    consumers: dict[int, list[TfOp]] = field(default_factory=dict)
    groups: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def tensor(self, i: int) -> TfTensor:
        return self.model.tensors[i]

    def value(self, op: TfOp, pos: int, pending: bool = False) -> Value:
        """The value of input ``pos`` of ``op`` (an activation: made by an earlier op). A
        value with a pending PAD or SPLIT slice (not a tensor of the graph yet) is refused
        unless ``pending`` (the caller folds it in)."""
        i = op.inputs[pos]
        if i < 0 or i not in self.values:
            raise TFLiteImportError(op.index, op.code, f"input {pos} ({self._tname(i)}) is not "
                                    "an activation produced by an earlier op")
        v = self.values[i]
        if not pending and v.pad is not None:
            raise TFLiteImportError(op.index, op.code, f"input {pos} is the output of a PAD, "
                                    "which only a VALID CONV_2D / DEPTHWISE_CONV_2D can fold in")
        if not pending and v.slice is not None:
            raise TFLiteImportError(op.index, op.code, f"input {pos} is an output of SPLIT; "
                                    "only CONV_2D can read one (as a conv of all channels with "
                                    "zero weights outside the slice)")
        return v

    def const(self, op: TfOp, pos: int, required: bool = True) -> np.ndarray | None:
        """The data of constant input ``pos`` of ``op`` (``None`` if absent and optional)."""
        i = op.inputs[pos] if pos < len(op.inputs) else -1
        if i < 0:
            if required:
                raise TFLiteImportError(op.index, op.code, f"input {pos} is missing")
            return None
        t = self.tensor(i)
        if t.data is None:
            raise TFLiteImportError(op.index, op.code, f"input {pos} ({self._tname(i)}) must be "
                                    "a constant")
        if t.quantised and np.dtype(t.data.dtype).kind in "iu" and t.data.dtype.itemsize <= 2:
            raise TFLiteImportError(op.index, op.code, f"input {pos} ({self._tname(i)}) is an "
                                    f"{t.data.dtype} quantized constant: int8 (and hybrid) "
                                    "quantized ops are not imported (docs/import.md, int8 "
                                    "inference)")
        return t.data

    def is_const(self, op: TfOp, pos: int) -> bool:
        i = op.inputs[pos]
        return i >= 0 and self.tensor(i).data is not None

    def emit(self, op: TfOp, op_type: str, inputs: list[Value], attrs: dict[str, Any],
             kind: str, shape: tuple[int, ...], suffix: str = "", **params: np.ndarray) -> Value:
        """Append one IR op named after ``op``'s output tensor; returns its value (not yet
        bound to a TFLite tensor: :meth:`bind` does that)."""
        base = _clean(self.tensor(op.outputs[0]).name) if op.outputs else f"op{op.index}"
        name = f"{op.index}.{base}{suffix}"
        self.builder.add(op_type, name, [v.name for v in inputs], attrs, **params)
        return Value(name, kind, tuple(shape), len(self.builder.ops) - 1)

    def bind(self, op: TfOp, value: Value) -> None:
        self.values[op.outputs[0]] = value

    def only_consumer(self, op: TfOp) -> TfOp | None:
        users = self.consumers.get(op.outputs[0], [])
        return users[0] if len(users) == 1 else None

    def _tname(self, i: int) -> str:
        return "absent" if i < 0 else repr(self.tensor(i).name)


def _clean(name: str) -> str:
    """A tensor name usable in the IR (TFLite names can be long paths with ';')."""
    name = name.split(";")[0]
    return "".join(ch if ch.isalnum() or ch in "._/-" else "_" for ch in name)[:80] or "t"


def from_tflite(path: str | os.PathLike[str] | bytes) -> tuple[Graph, dict[str, np.ndarray]]:
    """Import a Larq Compute Engine ``.tflite`` model (a path, or the file's bytes).

    Returns ``(graph, tensors)`` as :func:`bnnflow.convert.convert` does, validated; save with
    ``bnnflow.format.save``. Raises :class:`TFLiteImportError` (a ``ValueError``) naming the op
    index, op code and reason for anything it cannot map (docs/import.md lists what maps).
    """
    if isinstance(path, bytes):
        data = path
    else:
        with open(path, "rb") as f:
            data = f.read()
    return import_model(read_tflite(data))


def import_model(model: TfModel) -> tuple[Graph, dict[str, np.ndarray]]:
    """:func:`from_tflite` of an already parsed model."""
    ctx = _context(model)
    from bnnflow.convert.lce import ops_builtin, ops_lce

    handlers = {**ops_builtin.HANDLERS, **ops_lce.HANDLERS}
    for op in model.ops:
        handler = handlers.get(op.code)
        if handler is None:
            raise TFLiteImportError(op.index, op.code, "this op has no bnnflow mapping "
                                    "(docs/import.md lists the ops that import)")
        with _naming(op):
            handler(ctx, op)
    graph, tensors = _finish(ctx)
    try:
        validate(graph, tensors)
    except FormatError as err:
        raise TFLiteImportError(-1, "<model>", f"the imported graph is invalid: {err}") from err
    return graph, tensors


@contextmanager
def _naming(op: TfOp) -> Iterator[None]:
    """A malformed op (missing inputs, a constant of the wrong rank, ...) that the mapping's
    own checks did not anticipate: a TFLiteImportError naming the op, not a traceback."""
    try:
        yield
    except TFLiteImportError:
        raise
    except (IndexError, KeyError, TypeError, ValueError, ArithmeticError) as err:
        raise TFLiteImportError(op.index, op.code, f"malformed op ({type(err).__name__}: "
                                f"{err})") from err


def _context(model: TfModel) -> Context:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise TFLiteImportError(-1, "<model>", f"expected one input and one output, got "
                                f"{len(model.inputs)} and {len(model.outputs)}")
    t = model.tensors[model.inputs[0]]
    if len(t.shape) != 4 or t.dtype is not np.float32:
        raise TFLiteImportError(-1, "<model>", f"input {t.name!r}: expected a float32 NHWC "
                                f"image, got {np.dtype(t.dtype).name if t.dtype else '?'} "
                                f"{list(t.shape)} (int8-inference models are not imported, "
                                "docs/import.md says why: convert with the default float "
                                "inference type)")
    spec = InputSpec("input", (-1, *t.shape[1:]), "float32",
                     description="float32 NHWC, as the .tflite model's input")
    ctx = Context(model, GraphBuilder(spec, dataflow="float"))
    ctx.values[model.inputs[0]] = Value("input", "float32", t.shape)
    for op in model.ops:
        for i in op.inputs:
            if i >= 0:
                ctx.consumers.setdefault(i, []).append(op)
    _packed_groups(ctx)
    return ctx


def _packed_groups(ctx: Context) -> None:
    """The groups every packed tensor must be packed for: those of the LceBconv2d reading it
    (through any LceBMaxPool2d in between); 1 where no binary conv reads it."""
    for op in reversed(ctx.model.ops):
        with _naming(op):
            _packed_groups_of(ctx, op)


def _packed_groups_of(ctx: Context, op: TfOp) -> None:
    if op.code == "LceBconv2d":
        cin = int(op.options.get("channels_in", 0))
        wg = ctx.tensor(op.inputs[1]).shape[3]
        words = -(-cin // 32)
        g = words // wg if wg and words % wg == 0 else 1
        _need_groups(ctx, op, op.inputs[0], g)
    elif op.code == "LceBMaxPool2d":
        _need_groups(ctx, op, op.inputs[0], ctx.groups.get(op.outputs[0], 1))


def _need_groups(ctx: Context, op: TfOp, tensor: int, g: int) -> None:
    have = ctx.groups.setdefault(tensor, g)
    if have != g:
        raise TFLiteImportError(op.index, op.code, f"tensor {ctx.tensor(tensor).name!r} is read "
                                f"by binary convolutions of {have} and of {g} groups")


def _finish(ctx: Context) -> tuple[Graph, dict[str, np.ndarray]]:
    out = ctx.model.outputs[0]
    if out not in ctx.values:
        raise TFLiteImportError(-1, "<model>", "the output tensor is not produced by any op")
    v = ctx.values[out]
    if v.pad is not None or v.slice is not None:
        raise TFLiteImportError(-1, "<model>", "the output is a PAD or SPLIT output, not a "
                                "tensor bnnflow computes")
    if v.kind != "float32" or len(v.shape) != 2:
        raise TFLiteImportError(-1, "<model>", f"the output must be float32 [N, classes] "
                                f"logits, got {v.kind} {list(v.shape)}")
    meta = {"source": "tflite (Larq Compute Engine)", "import_notes": ctx.notes}
    return ctx.builder.build(v.name, int(v.shape[1]), metadata=meta)
