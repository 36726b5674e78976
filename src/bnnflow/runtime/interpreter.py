"""The deploy-time :class:`Interpreter`: a thin wrapper over the native executor
(``bnnflow._engine.NativeModel``, C++ in ``csrc/engine``), which loads and validates a ``.bnn``,
binds every op to its kernel once (weights prepared for the ISA), plans one activation arena
and runs the whole graph in one call with the GIL released. The C API
(``include/bnnflow/bnnflow.h``) and ``bnnflow-benchmark`` run the same executor.

Thread safety: several Python threads may call :meth:`Interpreter.run` on one interpreter at
once; each native run takes an arena and thread pool of its own.
"""

from __future__ import annotations

import errno
import json
import operator
import os
from collections.abc import Mapping
from functools import cached_property

import numpy as np

from bnnflow.format import dumps
from bnnflow.graph import (
    Graph,
    InputSpec,
    Op,
    OutputSpec,
    TensorInfo,
    graph_from_json,
    numpy_dtype,
)
from bnnflow.runtime.memory import MemoryPlan, plan_memory
from bnnflow.runtime.summary import Summary, summarize

#: Largest ``num_threads`` accepted.
MAX_THREADS = 256
#: The ISA names the engine knows.
ISAS = ("scalar", "avx2", "avx512", "neon")


def _thread_count(value: object) -> int:
    """``value`` as an int in ``[1, MAX_THREADS]`` (``operator.index``: no bool, no float)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"num_threads must be an integer, got {value!r}")
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"num_threads must be an integer, got {value!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"num_threads must be in [1, {MAX_THREADS}], got {n}")
    return n


def _fuse_flag(fuse: bool | None) -> bool | None:
    if fuse is not None and not isinstance(fuse, bool):
        raise ValueError(f"fuse must be True, False or None, got {fuse!r}")
    return fuse


def resolve_isa(isa: str | None) -> str:
    """``isa`` checked against this CPU, or the engine's active ISA when ``None``.

    Raises:
        ValueError: not an ISA name.
        RuntimeError: this CPU cannot run it.
    """
    from bnnflow import cpu

    if isa is None:
        return cpu.active_isa()
    if isa not in ISAS:
        raise ValueError(f"isa must be one of {', '.join(ISAS)}, got {isa!r}")
    if isa not in cpu.supported_isas():
        raise RuntimeError(f"isa {isa!r} is not supported by this CPU (supported: "
                           f"{', '.join(cpu.supported_isas())})")
    return isa


def _native_model() -> type:
    from bnnflow import _engine

    return _engine.NativeModel


class Interpreter:
    """Run a ``.bnn`` model on the native executor.

    Args:
        path: the ``.bnn`` file (validated completely, natively, before anything runs).
        num_threads: engine threads per op, an integer (any ``__index__`` type, e.g.
            ``np.int64``) in ``[1, MAX_THREADS]``.
        isa: force an ISA (``"scalar"``, ``"avx2"``, ``"avx512"``, ``"neon"``); default: the
            engine's choice (the best this CPU runs, or ``BNNFLOW_ISA``).
        fuse: run fused steps (a binary convolution with the residual add, non-linearity and
            sign-pack after it as one step; runs of int8 convolutions, pools, requantisations
            and pwls, such as the stem and the downsample path, as band chains computed in
            bands of rows; docs/runtime.md, "Fused steps"); outputs are identical either way.
            Default ``None``: on, unless the environment variable ``BNNFLOW_FUSE`` is ``0``
            (``BNNFLOW_BAND_BYTES`` sets the band chains' buffer budget, ``0`` none).

    Raises:
        FormatError: the file is not a valid ``.bnn``.
        OSError: the file cannot be read (``FileNotFoundError``, ``IsADirectoryError``, ...).
        ValueError: ``num_threads`` not an integer in ``[1, MAX_THREADS]``, or an unknown
            ``isa``.
        RuntimeError: ``isa`` is not supported by this CPU.
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 1, *,
                 isa: str | None = None, fuse: bool | None = None):
        threads, isa = _thread_count(num_threads), resolve_isa(isa)
        target = os.fspath(path)
        os.stat(target)  # FileNotFoundError / PermissionError as Python gives them
        if os.path.isdir(target):
            raise IsADirectoryError(errno.EISDIR, "is a directory, expected a .bnn file", target)
        native = _native_model().from_file(target, threads, isa, _fuse_flag(fuse))
        graph = graph_from_json(json.loads(native.graph_json)["graph"])
        self._setup(native, graph)

    @classmethod
    def from_graph(cls, graph: Graph, tensors: Mapping[str, np.ndarray], num_threads: int = 1,
                   *, isa: str | None = None, fuse: bool | None = None) -> Interpreter:
        """An interpreter for an in-memory graph: serialised as :func:`bnnflow.format.dumps`
        would (validated on the way), then loaded natively from the bytes."""
        threads, isa = _thread_count(num_threads), resolve_isa(isa)
        data = dumps(graph, {k: np.ascontiguousarray(v) for k, v in tensors.items()})
        self = cls.__new__(cls)
        self._setup(_native_model().from_bytes(data, threads, isa, _fuse_flag(fuse)), graph)
        return self

    def _setup(self, native: object, graph: Graph) -> None:
        self._native = native
        self._graph = graph
        self._op_index = {op.name: i for i, op in enumerate(graph.ops)}
        # per op, per input: (shape without the batch, numpy dtype), for run_op's checks
        self._op_signatures = [
            [(tuple(self.infos[t].shape[1:]), numpy_dtype(self.infos[t].dtype))
             for t in op.inputs] for op in graph.ops]

    # -- properties ---------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def input_spec(self) -> InputSpec:
        """What :meth:`run` accepts: ``[N, *shape[1:]]`` of ``dtype``."""
        return self._graph.input_spec

    @property
    def output_spec(self) -> OutputSpec:
        """What :meth:`run` returns: float32 ``[N, classes]`` (with class names)."""
        return self._graph.output_spec

    @property
    def isa(self) -> str:
        return self._native.isa

    @property
    def fused(self) -> bool:
        """Whether :meth:`run` executes fused steps (see ``fuse``)."""
        return self._native.fused

    @property
    def num_threads(self) -> int:
        return self._native.num_threads

    @cached_property
    def infos(self) -> dict[str, TensorInfo]:
        """The inferred :class:`TensorInfo` of every activation (the input first), as the
        native validator inferred them."""
        out = {}
        for t in self._native.tensors:
            out[t["name"]] = TensorInfo(t["name"], t["dtype"], tuple(t["shape"]),
                                        t.get("channels"), t.get("groups"))
        return out

    @cached_property
    def tensors(self) -> dict[str, np.ndarray]:
        """The container's param tensors (read-only views of the native model's copies)."""
        return {name: self._native.param(name) for name in sorted(self._graph.param_names())}

    @cached_property
    def memory_plan(self) -> MemoryPlan:
        """The liveness plan of every activation (per op, batch of one), made in Python by
        :func:`bnnflow.runtime.memory.plan_memory` (the native planner's algorithm)."""
        return plan_memory(self._graph, self.infos)

    @property
    def peak_activation_bytes(self) -> int:
        """Peak activation bytes for a batch of one under the liveness plan (every activation
        in one arena, reused when dead; the caller's input excluded)."""
        return self._native.peak_activation_bytes

    def activation_bytes(self, batch: int) -> int:
        """Peak activation bytes for a batch of ``batch``."""
        return batch * self.peak_activation_bytes

    @property
    def arena_bytes_per_sample(self) -> int:
        """Bytes per sample of the arena a run allocates: the plan of the program :meth:`run`
        executes (fused pairs are one step, their intermediate tensor never exists)."""
        return self._native.arena_bytes_per_sample

    @property
    def steps(self) -> list[str]:
        """The steps :meth:`run` executes, in order: op names, joined with ``"+"`` for fused
        ops (docs/runtime.md, "Fused steps"): ``conv2d_int8`` + the ``requant32`` that is its
        only reader; a binary convolution + its residual ``add`` (+ ``pwl``) (+ ``pack``)."""
        return [name for name, _ in self._native.steps]

    @property
    def step_types(self) -> list[str]:
        """The op types of :attr:`steps`, e.g. ``"bconv+add+pwl+pack"`` for a fused block."""
        return [kind for _, kind in self._native.steps]

    @property
    def backends(self) -> dict[str, str]:
        """Op name -> ``"engine"``: every op runs on a native kernel."""
        return {op.name: "engine" for op in self._graph.ops}

    @property
    def load_seconds(self) -> float:
        """Native read + parse + validate time of the model."""
        return self._native.load_seconds

    @property
    def prepare_seconds(self) -> float:
        """Native kernel binding (weight preparation) + arena planning time."""
        return self._native.prepare_seconds

    # -- running ------------------------------------------------------------------------

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 logits ``[N, classes]`` for the batch ``x`` (one native call, GIL
        released).

        Raises:
            ValueError: ``x`` is not a numpy array of the input spec's rank, shape (batch
                aside) and dtype, or a float input holds NaN / inf; the message states
                expected and actual.
        """
        return self._native.run(self.input_spec.check(x))

    def profile(self, x: np.ndarray) -> list[tuple[str, str, float]]:
        """``(step name, step type, seconds)`` of every step of one :meth:`run` of ``x``,
        timed natively."""
        _, seconds = self._native.run_profiled(self.input_spec.check(x))
        return [(name, kind, t) for (name, kind), t in zip(self._native.steps, seconds,
                                                            strict=True)]

    def run_all(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every activation (name -> array, in op order) of the per-op program, for
        debugging and the engine == reference tests."""
        return self._native.run_all(self.input_spec.check(x))

    def run_op(self, name: str, inputs: list[np.ndarray]) -> np.ndarray:
        """Run the single op ``name`` on the given input arrays (batch from ``inputs[0]``) and
        return its output; for checking one kernel against the reference.

        Raises:
            KeyError: no op is called ``name``.
            ValueError: ``inputs`` is not a list of as many numpy arrays as the op has inputs,
                or an array's dtype, rank, shape (batch aside) or batch differs from its
                tensor's; the message names the op, the tensor and expected and actual.
        """
        index = self._op_index.get(name)
        if index is None:
            raise KeyError(f"no op named {name!r}")
        return self._native.run_op(index, self._op_inputs(index, inputs))

    def _op_inputs(self, index: int, inputs: object) -> list[np.ndarray]:
        """``inputs`` of op ``index`` as C-contiguous arrays: a fast test (a few µs, so that
        per-op timings through run_op stay honest), the messages of :meth:`_check_op_inputs`
        when it fails."""
        wanted = self._op_signatures[index]
        if isinstance(inputs, (list, tuple)) and len(inputs) == len(wanted) and wanted:
            batch = inputs[0].shape[0] if isinstance(inputs[0], np.ndarray) else 0
            if batch >= 1 and all(
                isinstance(x, np.ndarray) and x.dtype == dtype and x.shape[0] == batch
                and x.shape[1:] == tail for x, (tail, dtype) in zip(inputs, wanted, strict=True)
            ):
                return [np.ascontiguousarray(x) for x in inputs]
        return self._check_op_inputs(self._graph.ops[index], inputs)

    def _check_op_inputs(self, op: Op, inputs: object) -> list[np.ndarray]:
        """``inputs`` as C-contiguous arrays, checked against the tensors ``op`` reads; a
        ValueError names the op, the tensor, expected and actual."""
        where = f"run_op {op.name!r} ({op.type})"
        names = list(op.inputs)
        wanted = f"{len(names)} input{'s' if len(names) != 1 else ''} ({', '.join(names)})"
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{where}: expected a list of {wanted}, got "
                             f"{type(inputs).__name__}")
        if len(inputs) != len(names):
            raise ValueError(f"{where}: takes {wanted}, got {len(inputs)}")
        arrays, batch = [], None
        for tensor, x in zip(names, inputs, strict=True):
            info = self.infos[tensor]
            want = f"[N, {', '.join(map(str, info.shape[1:]))}] {info.dtype}"
            if not isinstance(x, np.ndarray):
                raise ValueError(f"{where}: input {tensor!r}: expected a numpy array {want}, "
                                 f"got {type(x).__name__}")
            if x.ndim != len(info.shape) or tuple(x.shape[1:]) != tuple(info.shape[1:]):
                raise ValueError(f"{where}: input {tensor!r}: expected shape {want}, got "
                                 f"shape {list(x.shape)}")
            if x.dtype != numpy_dtype(info.dtype):
                raise ValueError(f"{where}: input {tensor!r}: expected dtype "
                                 f"{numpy_dtype(info.dtype)} ({want}), got dtype {x.dtype}")
            if x.shape[0] < 1 or (batch is not None and x.shape[0] != batch):
                raise ValueError(f"{where}: input {tensor!r}: batch {x.shape[0]}, expected "
                                 f"{'>= 1' if batch is None else batch} (the batch of "
                                 f"{names[0]!r})")
            batch = x.shape[0]
            arrays.append(np.ascontiguousarray(x))
        return arrays

    def summary(self) -> Summary:
        """Per-op table (type, name, output shape, MACs by precision, params by precision,
        backend) and totals with the peak activation memory, for ``bnnflow summary``."""
        return summarize(self._graph, self.tensors, self.infos, self.memory_plan,
                         self.backends)
