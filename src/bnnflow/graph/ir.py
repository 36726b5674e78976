"""The IR: a graph of ops from the catalogue of docs/numerics.md, held as plain data.

A :class:`Graph` is an ordered (topologically sorted) list of :class:`Op`. Every op reads
activation tensors by name (``inputs``), defines exactly the tensors named in ``outputs`` (each
name once in the whole graph: static single assignment), and reads constant tensors (weights,
thresholds, multipliers) from the container through ``params`` (role -> tensor name). The
graph input is described by :class:`InputSpec`, the logits by :class:`OutputSpec`.

Shapes are NHWC with the batch as ``-1`` in dimension 0. Packed binary activations have
dtype ``"packed"`` (stored as uint32) and carry their real channel count and the number of
groups they were packed for: shape ``[N, H, W, G * ceil(C / G / 32)]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Activation dtypes. ``packed`` is uint32 words of sign bits (docs/numerics.md §1).
ACTIVATION_DTYPES: tuple[str, ...] = ("int8", "uint8", "int32", "float32", "packed")
#: Dtypes a param tensor of the container may have.
PARAM_DTYPES: tuple[str, ...] = ("int8", "uint8", "int16", "int32", "int64", "uint32", "float32")
#: Dtypes of the graph input.
INPUT_DTYPES: tuple[str, ...] = ("uint8", "int8", "float32")
#: The two data-flows of docs/numerics.md.
DATAFLOWS: tuple[str, ...] = ("int8", "float")

BATCH = -1


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype that stores an activation or param dtype name (``packed`` -> uint32)."""
    return np.dtype(np.uint32 if dtype == "packed" else dtype)


def words_per_group(channels: int, groups: int) -> int:
    """``Wg = ceil((channels / groups) / 32)``: uint32 words that hold one group's bits."""
    return -(-(channels // groups) // 32)


@dataclass(frozen=True)
class TensorInfo:
    """An activation tensor: dtype and shape (batch ``-1`` first).

    For ``dtype == "packed"``, ``channels`` is the real channel count ``C`` and ``groups`` the
    number of groups ``G`` the bits were packed for; the last dimension is ``G * Wg`` words.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    channels: int | None = None
    groups: int | None = None

    @property
    def is_packed(self) -> bool:
        return self.dtype == "packed"

    @property
    def logical_channels(self) -> int:
        """Channels as the network sees them (the real ``C`` for packed tensors)."""
        return self.channels if self.is_packed else self.shape[-1]

    def concrete_shape(self, batch: int) -> tuple[int, ...]:
        """The shape with the batch dimension set to ``batch``."""
        return (batch, *self.shape[1:])

    def sample_elements(self) -> int:
        """Elements of one sample (product of the non-batch dims)."""
        return math.prod(self.shape[1:])

    def nbytes(self, batch: int) -> int:
        """Bytes of the tensor for a batch of ``batch``."""
        return batch * self.sample_elements() * numpy_dtype(self.dtype).itemsize

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dtype": self.dtype, "shape": list(self.shape)}
        if self.is_packed:
            d["channels"] = self.channels
            d["groups"] = self.groups
        return d


@dataclass
class Op:
    """One op of the catalogue.

    Attributes:
        type: op type (a key of :data:`bnnflow.graph.schema.SCHEMAS`).
        name: the source module name (``layer1.0.conv1``), used in error messages.
        inputs: activation tensor names read, in the order the schema gives.
        outputs: activation tensor names defined (exactly one for every op of the catalogue).
        attrs: JSON-able attributes (ints, strings, ``None``), checked by the op's schema.
        params: role -> name of a tensor in the container (``{"weights": "layer1.w"}``).
    """

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        """The single output tensor name."""
        return self.outputs[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "attrs": dict(self.attrs),
            "params": dict(self.params),
        }


@dataclass
class InputSpec:
    """The graph input: tensor ``name`` of ``shape`` (NHWC or ``[N, C]``, batch ``-1``).

    ``normalisation`` (optional) records what the caller's raw data means, e.g.
    ``{"mean": [...], "std": [...]}`` per channel in the 0..255 pixel scale when the stem has
    the normalisation folded in; ``quantisation`` (optional) records the scale / zero point of
    the input data (``{"scale": s, "zero_point": z}``). ``description`` is free text for humans.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    normalisation: dict[str, Any] | None = None
    quantisation: dict[str, Any] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        # The batch may be given as None; it is stored as -1.
        self.shape = tuple(BATCH if d is None else d for d in self.shape)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "normalisation": self.normalisation,
            "quantisation": self.quantisation,
            "description": self.description,
        }

    def tensor_info(self) -> TensorInfo:
        return TensorInfo(self.name, self.dtype, tuple(self.shape))

    def check(self, x: object) -> np.ndarray:
        """Check a caller's batch against this spec; return it as a C-contiguous array.

        Raises:
            ValueError: ``x`` is not an array, or its rank, shape (batch aside) or dtype differ
                from the spec, the batch is empty, or a float32 input holds NaN or inf; the
                message gives expected and actual values.
        """
        want = f"[N, {', '.join(map(str, self.shape[1:]))}] {self.dtype}"
        if not isinstance(x, np.ndarray):
            raise ValueError(f"input {self.name!r}: expected a numpy array {want}, got "
                             f"{type(x).__name__}")
        if x.ndim != len(self.shape):
            raise ValueError(f"input {self.name!r}: expected rank {len(self.shape)} ({want}), "
                             f"got rank {x.ndim} with shape {list(x.shape)}")
        if tuple(x.shape[1:]) != tuple(self.shape[1:]):
            raise ValueError(f"input {self.name!r}: expected shape {want}, got shape "
                             f"{list(x.shape)}")
        if x.shape[0] < 1:
            raise ValueError(f"input {self.name!r}: batch must be >= 1, got an empty batch "
                             f"of shape {list(x.shape)}")
        if x.dtype != np.dtype(self.dtype):
            raise ValueError(f"input {self.name!r}: expected dtype {self.dtype} ({want}), got "
                             f"dtype {x.dtype}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise ValueError(f"input {self.name!r}: non-finite value {x[tuple(bad)]} at index "
                             f"{bad.tolist()}; float inputs must be finite (NaN/inf give "
                             "unspecified results, docs/numerics.md §5)")
        return np.ascontiguousarray(x)


@dataclass
class OutputSpec:
    """The graph output: float32 logits ``[N, classes]`` in tensor ``name``."""

    name: str
    classes: int
    class_names: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "classes": self.classes, "class_names": self.class_names}


@dataclass
class Graph:
    """An ordered list of ops plus the input and output specs.

    ``dataflow`` is ``"int8"`` (BNN-Clip, integer glue) or ``"float"`` (float32 glue).
    ``metadata`` holds free JSON-able extras (training recipe, accuracy, ...).
    Call :func:`bnnflow.graph.validate` to check it against the op schemas and infer every
    activation's :class:`TensorInfo`.
    """

    ops: list[Op]
    input_spec: InputSpec
    output_spec: OutputSpec
    dataflow: str = "int8"
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataflow": self.dataflow,
            "input_spec": self.input_spec.to_json(),
            "output_spec": self.output_spec.to_json(),
            "ops": [op.to_json() for op in self.ops],
            "metadata": dict(self.metadata),
        }

    def param_names(self) -> set[str]:
        """Names of every container tensor the ops reference."""
        return {t for op in self.ops for t in op.params.values()}
