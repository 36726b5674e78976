"""Model summary: per-op costs and memory, as data and as a text table (``bnnflow summary``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bnnflow.graph import Graph, TensorInfo, op_cost
from bnnflow.graph.costs import PRECISIONS
from bnnflow.runtime.memory import MemoryPlan, plan_memory


@dataclass
class SummaryRow:
    """One op: MACs are per sample; ``params`` counts elements (binary: weight bits)."""

    index: int
    type: str
    name: str
    output_shape: list[int]
    output_dtype: str
    binary_macs: int
    int8_macs: int
    float_macs: int
    params: dict[str, int]
    param_bytes: int
    backend: str


@dataclass
class Summary:
    """All rows plus totals and memory (activation bytes per sample)."""

    rows: list[SummaryRow]
    dataflow: str
    input: dict[str, Any]
    output: dict[str, Any]
    peak_activation_bytes: int
    activation_bytes_without_reuse: int
    totals: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    def to_text(self) -> str:
        """A table with totals; the type, name and output columns are as wide as their longest
        entry (never cut)."""
        outputs = [" ".join(("x".join("N" if d == -1 else str(d) for d in r.output_shape),
                             r.output_dtype)) for r in self.rows]
        tw = max([len("type"), *(len(r.type) for r in self.rows)])
        nw = max([len("name"), *(len(r.name) for r in self.rows)])
        ow = max([len("output"), *map(len, outputs)])
        head = f"{'#':>3} {'type':<{tw}} {'name':<{nw}} {'output':<{ow}} {'bin MACs':>11} " \
               f"{'int8 MACs':>10} {'f32 MACs':>10} {'params B':>9} backend"
        lines = [head, "-" * len(head)]
        for r, out in zip(self.rows, outputs, strict=True):
            lines.append(f"{r.index:>3} {r.type:<{tw}} {r.name:<{nw}} {out:<{ow}} "
                         f"{r.binary_macs:>11,} {r.int8_macs:>10,} {r.float_macs:>10,} "
                         f"{r.param_bytes:>9,} {r.backend}")
        t = self.totals
        lines += ["-" * len(head),
                  f"binary MACs {t['binary_macs']:,}  int8 MACs {t['int8_macs']:,}  float MACs "
                  f"{t['float_macs']:,} (per sample)",
                  "params: " + ", ".join(f"{p} {t['params_' + p]:,}" for p in PRECISIONS)
                  + f" ({t['param_bytes']:,} bytes)",
                  f"peak activation memory {self.peak_activation_bytes:,} bytes per sample "
                  f"(without reuse: {self.activation_bytes_without_reuse:,})"]
        return "\n".join(lines)


def summarize_file(path: str | os.PathLike[str]) -> Summary:
    """The :class:`Summary` of a ``.bnn`` file without binding any kernel (no engine needed;
    the backend column reads ``"-"``).

    Raises:
        FormatError: the file is not a valid ``.bnn``.
    """
    from bnnflow.format import read

    model = read(path)
    plan = plan_memory(model.graph, model.infos)
    return summarize(model.graph, model.tensors, model.infos, plan, {})


def summarize(graph: Graph, tensors: Mapping[str, np.ndarray],
              infos: Mapping[str, TensorInfo], plan: MemoryPlan,
              backends: Mapping[str, str]) -> Summary:
    """Build the :class:`Summary` of a validated graph."""
    rows = []
    for i, op in enumerate(graph.ops):
        params = {role: tensors[name] for role, name in op.params.items()}
        out = infos[op.output]
        cost = op_cost(op, [infos[t] for t in op.inputs], out, params)
        rows.append(SummaryRow(i, op.type, op.name, list(out.shape), out.dtype,
                               cost.binary_macs, cost.int8_macs, cost.float_macs,
                               dict(cost.params), cost.param_bytes(),
                               backends.get(op.name, "-")))
    totals = {k: sum(getattr(r, k) for r in rows)
              for k in ("binary_macs", "int8_macs", "float_macs", "param_bytes")}
    for p in PRECISIONS:
        totals["params_" + p] = sum(r.params[p] for r in rows)
    spec = graph.input_spec
    return Summary(rows, graph.dataflow,
                   {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype,
                    "normalisation": spec.normalisation, "description": spec.description},
                   {"name": graph.output_spec.name, "classes": graph.output_spec.classes,
                    "class_names": graph.output_spec.class_names},
                   plan.peak_bytes, plan.total_bytes, totals)
