"""The deploy-time :class:`Interpreter`: load and validate a ``.bnn``, plan one activation
arena, bind each op's engine kernel once, run batches.

Thread safety: every :meth:`Interpreter.run` call takes an arena of its own from a small pool
(under a lock) and the bound kernels keep no per-call state, so several Python threads may
call ``run`` on one interpreter at once.
"""

from __future__ import annotations

import operator
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bnnflow.format import read
from bnnflow.graph import Graph, InputSpec, Op, OutputSpec, TensorInfo, numpy_dtype, validate
from bnnflow.runtime.engine_ops import bind_conv_requant
from bnnflow.runtime.fusion import Step, fuse
from bnnflow.runtime.kernels import Kernel, bind_kernel, resolve_isa
from bnnflow.runtime.memory import MemoryPlan, last_uses, plan_memory
from bnnflow.runtime.summary import Summary, summarize

_EMPTY_ARENA = np.empty(0, np.uint8)
#: Arenas kept for reuse: per batch size, and how many batch sizes.
_ARENAS_PER_BATCH_SIZE = 2
_POOLED_BATCH_SIZES = 4
#: Largest ``num_threads`` accepted.
MAX_THREADS = 256


@dataclass(frozen=True)
class _Program:
    """Steps in order, the tensors each step releases, and the arena of the tensors whose
    kernels write into a given buffer (the others are allocated by the engine and released
    after their last reader)."""

    steps: list[Step]
    drops: list[list[str]]
    arena_plan: MemoryPlan


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


class Interpreter:
    """Run a ``.bnn`` model on the C++ engine.

    Args:
        path: the ``.bnn`` file (validated completely before anything runs).
        num_threads: engine threads per op, an integer (any ``__index__`` type, e.g.
            ``np.int64``) in ``[1, MAX_THREADS]``.
        isa: force an ISA (``"scalar"``, ``"avx2"``, ``"avx512"``, ``"neon"``); default: the
            engine's choice (the best this CPU runs, or ``BNNFLOW_ISA``).

    Raises:
        FormatError: the file is not a valid ``.bnn``.
        ValueError: ``num_threads`` not an integer in ``[1, MAX_THREADS]``, or an unknown
            ``isa``.
        RuntimeError: ``isa`` is not supported by this CPU.
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 1, *,
                 isa: str | None = None):
        model = read(path)
        self._setup(model.graph, model.tensors, model.infos, num_threads, isa)

    @classmethod
    def from_graph(cls, graph: Graph, tensors: Mapping[str, np.ndarray], num_threads: int = 1,
                   *, isa: str | None = None) -> Interpreter:
        """An interpreter for an in-memory graph (validated as :func:`bnnflow.format.load`
        would)."""
        self = cls.__new__(cls)
        tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        self._setup(graph, tensors, validate(graph, tensors), num_threads, isa)
        return self

    def _setup(self, graph: Graph, tensors: Mapping[str, np.ndarray],
               infos: Mapping[str, TensorInfo], num_threads: int, isa: str | None) -> None:
        num_threads = _thread_count(num_threads)
        self._graph = graph
        self._tensors = dict(tensors)
        self._infos = dict(infos)
        self._threads = num_threads
        self._isa = resolve_isa(isa)
        self._plan = plan_memory(graph, self._infos)
        # `_full`: one step per op (run_all, run_op, the reference comparisons); `_fast`: the
        # fused program run() executes (bnnflow.runtime.fusion), bit-identical.
        # per op, per input: (shape without the batch, numpy dtype), for run_op's checks
        self._op_signatures = [
            [(tuple(self._infos[t].shape[1:]), numpy_dtype(self._infos[t].dtype))
             for t in op.inputs] for op in graph.ops]
        self._full = self._program([self._bind(i) for i in range(len(graph.ops))])
        self._fast = self._program(fuse(graph, self._full.steps, self._bind_pair))
        self._pool: dict[int, list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def _program(self, steps: list[Step]) -> _Program:
        io = [(s.inputs, s.output) for s in steps]
        in_arena = {s.output for s in steps if s.kernel.writes_out}
        return _Program(steps, last_uses(self._graph, io),
                        plan_memory(self._graph, self._infos, only=in_arena, steps=io))

    def _bind_pair(self, first: Op, second: Op) -> Kernel | None:
        params = [{role: self._tensors[name] for role, name in op.params.items()}
                  for op in (first, second)]
        ins = [self._infos[t] for t in first.inputs]
        return bind_conv_requant(first, second, ins, params[0], params[1], self._isa,
                                 self._threads)

    def _bind(self, index: int) -> Step:
        op = self._graph.ops[index]
        params = {role: self._tensors[name] for role, name in op.params.items()}
        kernel = bind_kernel(op, [self._infos[t] for t in op.inputs], self._infos[op.output],
                             params, isa=self._isa, threads=self._threads)
        return Step(op.name, tuple(op.inputs), op.output, kernel, (op.name,))

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
        return self._isa

    @property
    def num_threads(self) -> int:
        return self._threads

    @property
    def memory_plan(self) -> MemoryPlan:
        return self._plan

    @property
    def peak_activation_bytes(self) -> int:
        """Peak activation bytes for a batch of one under the liveness plan (every activation
        in one arena, reused when dead; the caller's input excluded)."""
        return self._plan.peak_bytes

    def activation_bytes(self, batch: int) -> int:
        """Peak activation bytes for a batch of ``batch``."""
        return self._plan.arena_bytes(batch)

    @property
    def arena_bytes_per_sample(self) -> int:
        """Bytes per sample of the arena actually allocated per run: the plan restricted to
        the tensors whose kernels write into a given buffer (the others are allocated by the
        engine and released after their last reader)."""
        return self._fast.arena_plan.peak_bytes

    @property
    def backends(self) -> dict[str, str]:
        """Op name -> ``"engine"`` or ``"reference"`` (ops with no engine kernel)."""
        return {s.name: s.kernel.backend for s in self._full.steps}

    # -- running ------------------------------------------------------------------------

    def _acquire(self, batch: int) -> np.ndarray:
        if self._fast.arena_plan.peak_bytes == 0:
            return _EMPTY_ARENA
        with self._lock:
            free = self._pool.get(batch)
            if free:
                return free.pop()
        return self._fast.arena_plan.new_arena(batch)

    def _release(self, batch: int, arena: np.ndarray) -> None:
        if arena is _EMPTY_ARENA:
            return
        with self._lock:
            if batch not in self._pool and len(self._pool) >= _POOLED_BATCH_SIZES:
                self._pool.pop(next(iter(self._pool)))  # forget the oldest batch size
            free = self._pool.setdefault(batch, [])
            if len(free) < _ARENAS_PER_BATCH_SIZE:
                free.append(arena)

    def _execute(self, program: _Program, x: np.ndarray, arena: np.ndarray, keep: bool
                 ) -> dict[str, np.ndarray]:
        batch = x.shape[0]
        values = {self.input_spec.name: x}
        kept: dict[str, np.ndarray] = {}
        plan = program.arena_plan
        for step, drops in zip(program.steps, program.drops, strict=True):
            out = plan.view(arena, step.output, batch) if step.kernel.writes_out else None
            values[step.output] = result = step.kernel([values[t] for t in step.inputs], out)
            if keep:
                kept[step.output] = result.copy()
            for t in drops:
                del values[t]
        logits = values[self.output_spec.name]
        in_arena = self.output_spec.name in plan.allocations
        kept[self.output_spec.name] = logits.copy() if in_arena else logits
        return kept

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 logits ``[N, classes]`` for the batch ``x``.

        Raises:
            ValueError: ``x`` is not a numpy array of the input spec's rank, shape (batch
                aside) and dtype; the message states expected and actual.
        """
        return self._run(x, keep=False)[self.output_spec.name]

    def run_all(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every activation (copied out of the arena as each op finishes), for debugging and
        the engine == reference tests."""
        return self._run(x, keep=True)

    def _run(self, x: np.ndarray, keep: bool) -> dict[str, np.ndarray]:
        x = self.input_spec.check(x)
        batch = x.shape[0]
        if keep:  # every activation: the unfused program, a fresh arena
            full = self._full
            arena = full.arena_plan.new_arena(batch) if full.arena_plan.peak_bytes else \
                _EMPTY_ARENA
            return self._execute(full, x, arena, keep=True)
        arena = self._acquire(batch)
        try:
            return self._execute(self._fast, x, arena, keep=False)
        finally:
            self._release(batch, arena)

    def run_op(self, name: str, inputs: list[np.ndarray]) -> np.ndarray:
        """Run the single op ``name`` on the given input arrays (batch from ``inputs[0]``) and
        return its output; for checking one kernel against the reference.

        Raises:
            KeyError: no op is called ``name``.
            ValueError: ``inputs`` is not a list of as many numpy arrays as the op has inputs,
                or an array's dtype, rank, shape (batch aside) or batch differs from its
                tensor's; the message names the op, the tensor and expected and actual.
        """
        index = next((i for i, s in enumerate(self._full.steps) if s.name == name), None)
        if index is None:
            raise KeyError(f"no op named {name!r}")
        step = self._full.steps[index]
        arrays = self._op_inputs(index, inputs)
        info = self._infos[step.output]
        out = (np.empty(info.concrete_shape(arrays[0].shape[0]), numpy_dtype(info.dtype))
               if step.kernel.writes_out else None)
        return step.kernel(arrays, out)

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
            info = self._infos[tensor]
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
        return summarize(self._graph, self._tensors, self._infos, self._plan, self.backends)
