"""Activation memory planning: one arena, buffers reused by liveness.

Every activation the ops define gets a byte range of one arena. Tensor ``t`` is live from the
op that defines it to the last op that reads it (the graph output: to the end); two tensors
whose live ranges overlap (inclusive, so an op's inputs never alias its output) get disjoint
ranges. Placement is greedy: largest tensor first, lowest offset that fits among the tensors
already placed that overlap it in time (the heuristic of TFLite's arena planner).

Sizes scale linearly with the batch, so the plan is made once per sample with offsets and
sizes rounded up to :data:`ALIGN` bytes, and a batch of ``N`` uses offsets ``N * offset``
(still aligned).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from bnnflow.graph import Graph, TensorInfo, numpy_dtype

ALIGN = 64


def _round_up(n: int, a: int = ALIGN) -> int:
    return -(-n // a) * a


@dataclass(frozen=True)
class Allocation:
    """Byte range of one tensor (per sample) and its live range ``[first, last]`` (op
    indices)."""

    name: str
    offset: int
    size: int
    first: int
    last: int

    def overlaps_in_time(self, other: Allocation) -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_memory(self, other: Allocation) -> bool:
        return self.offset < other.offset + _round_up(other.size) and \
            other.offset < self.offset + _round_up(self.size)


@dataclass(frozen=True)
class Lifetime:
    """A tensor to place: per-sample ``size`` in bytes, live over ops ``first..last``."""

    name: str
    size: int
    first: int
    last: int


def place(lifetimes: Iterable[Lifetime]) -> dict[str, Allocation]:
    """Greedy placement: largest first, lowest aligned offset free for its whole lifetime."""
    placed: list[Allocation] = []
    for t in sorted(lifetimes, key=lambda t: (-t.size, t.first, t.name)):
        need = _round_up(t.size)
        busy = sorted((a.offset, a.offset + _round_up(a.size)) for a in placed
                      if a.first <= t.last and t.first <= a.last)
        offset = 0
        for begin, end in busy:
            if begin - offset >= need:
                break
            offset = max(offset, end)
        placed.append(Allocation(t.name, offset, t.size, t.first, t.last))
    return {a.name: a for a in placed}


#: The data flow of a program: per step, its input tensor names and its output name.
#: A step's (inputs, output): the output a tensor name, or a tuple of names for a step that
#: defines several (a fused residual block writes its int8 result and the pack's bits).
StepIO = tuple[tuple[str, ...], str | tuple[str, ...]]


def graph_steps(graph: Graph) -> list[StepIO]:
    """The ops of ``graph`` as :data:`StepIO`."""
    return [(tuple(op.inputs), op.outputs[0]) for op in graph.ops]


def lifetimes(graph: Graph, infos: Mapping[str, TensorInfo],
              steps: list[StepIO] | None = None) -> list[Lifetime]:
    """Live range of every tensor a step defines (the graph input is the caller's array);
    the steps are the graph's ops unless ``steps`` (a fused program) is given."""
    steps = graph_steps(graph) if steps is None else steps
    last: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, (inputs, output) in enumerate(steps):
        for t in inputs:
            last[t] = i
        for name in (output,) if isinstance(output, str) else output:
            first[name] = i
    end = len(steps)
    out = []
    for name, i in first.items():
        stop = end if name == graph.output_spec.name else max(last.get(name, i), i)
        out.append(Lifetime(name, infos[name].nbytes(1), i, stop))
    return out


@dataclass
class MemoryPlan:
    """Where every activation lives in the arena, per sample."""

    allocations: dict[str, Allocation]
    infos: dict[str, TensorInfo]

    @property
    def peak_bytes(self) -> int:
        """Arena bytes per sample (the peak of the plan)."""
        return max((a.offset + _round_up(a.size) for a in self.allocations.values()), default=0)

    @property
    def total_bytes(self) -> int:
        """Bytes per sample without any reuse (sum of all activations), for comparison."""
        return sum(_round_up(a.size) for a in self.allocations.values())

    def arena_bytes(self, batch: int) -> int:
        return batch * self.peak_bytes

    def new_arena(self, batch: int) -> np.ndarray:
        """A fresh arena for ``batch`` samples, aligned to :data:`ALIGN` bytes."""
        raw = np.empty(self.arena_bytes(batch) + ALIGN, np.uint8)
        start = (-raw.ctypes.data) % ALIGN
        return raw[start:start + self.arena_bytes(batch)]

    def view(self, arena: np.ndarray, name: str, batch: int) -> np.ndarray:
        """The array of tensor ``name`` inside ``arena`` (made for ``batch`` samples)."""
        a, info = self.allocations[name], self.infos[name]
        buf = arena[batch * a.offset:batch * (a.offset + a.size)]
        return buf.view(numpy_dtype(info.dtype)).reshape(info.concrete_shape(batch))


def plan_memory(graph: Graph, infos: Mapping[str, TensorInfo],
                only: Collection[str] | None = None,
                steps: list[StepIO] | None = None) -> MemoryPlan:
    """Plan the arena of ``graph`` (validated, with its inferred ``infos``); with ``only``,
    place just those tensors; with ``steps``, for that program instead of the graph's ops."""
    lts = [t for t in lifetimes(graph, infos, steps) if only is None or t.name in only]
    return MemoryPlan(place(lts), dict(infos))


def last_uses(graph: Graph, steps: list[StepIO] | None = None) -> list[list[str]]:
    """For each step (the graph's ops unless ``steps`` is given), the tensors (the graph
    input included, the output excluded) whose last reader it is: they can be released once
    it has run."""
    steps = graph_steps(graph) if steps is None else steps
    last: dict[str, int] = {}
    for i, (inputs, _) in enumerate(steps):
        for t in inputs:
            last[t] = i
    drops: list[list[str]] = [[] for _ in steps]
    for name, i in last.items():
        if name != graph.output_spec.name:
            drops[i].append(name)
    return drops
