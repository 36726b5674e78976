"""Op fusion at bind time: the program an :class:`~bnnflow.runtime.Interpreter` runs.

The graph in a ``.bnn`` file keeps one op per numerics step (what the reference checks);
the interpreter runs a program of :class:`Step` objects in which some adjacent pairs are one
engine call. The only fusion so far: ``conv2d_int8`` followed by the ``requant32`` that is its
only reader becomes ``_engine.conv2d_int8_requant`` (int8 out; the int32 tensor never exists,
each output row is requantized while in cache). The result is bit-identical to the two ops.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bnnflow.graph import Graph, Op
from bnnflow.runtime.kernels import Kernel

#: ``bind_pair(first, second) -> Kernel or None``: one kernel computing both ops, or None when
#: the engine cannot fuse them.
PairBinder = Callable[[Op, Op], "Kernel | None"]

#: Adjacent op types fused into one step when the first's output has no other reader.
FUSABLE_PAIRS = frozenset({("conv2d_int8", "requant32")})


@dataclass(frozen=True)
class Step:
    """One engine call: reads ``inputs``, defines ``output``; ``ops``: the graph ops it runs."""

    name: str
    inputs: tuple[str, ...]
    output: str
    kernel: Kernel
    ops: tuple[str, ...]


def _fusable(graph: Graph, i: int, readers: Counter[str]) -> bool:
    ops = graph.ops
    if i + 1 >= len(ops):
        return False
    first, second = ops[i], ops[i + 1]
    t = first.outputs[0]
    return ((first.type, second.type) in FUSABLE_PAIRS and second.inputs[:1] == [t]
            and readers[t] == 1 and t != graph.output_spec.name)


def fuse(graph: Graph, steps: list[Step], bind_pair: PairBinder) -> list[Step]:
    """``steps`` (one per op of ``graph``, in order) with every fusable adjacent pair of
    engine-bound steps that ``bind_pair`` binds replaced by one step at the pair's place."""
    readers = Counter(t for op in graph.ops for t in op.inputs)
    out: list[Step] = []
    i = 0
    while i < len(steps):
        engine = all(s.kernel.backend == "engine" for s in steps[i:i + 2])
        fusable = engine and _fusable(graph, i, readers)
        kernel = bind_pair(graph.ops[i], graph.ops[i + 1]) if fusable else None
        if kernel is None:
            out.append(steps[i])
            i += 1
            continue
        a, b = steps[i], steps[i + 1]
        out.append(Step(f"{a.name}+{b.name}", a.inputs, b.output, kernel, a.ops + b.ops))
        i += 2
    return out
