"""Run a converted graph on the reference interpreter's per-op functions, op by op, with
optional teacher forcing (the interpreter's own ``run_all`` has no forcing)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bnnflow.graph import Graph, TensorInfo, validate
from bnnflow.reference import interpreter as ref_interp


def run_all(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray,
            force: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every activation of ``graph`` on ``x``. ``force`` (tensor -> array): after recording
    an op's own output, later ops read the forced array instead (teacher forcing); the
    returned dict holds the ops' own outputs."""
    force = force or {}
    infos: dict[str, TensorInfo] = validate(graph, tensors)
    fns = ref_interp.reference_table()
    values = {graph.input_spec.name: graph.input_spec.check(x)}
    seen = dict(values)
    for op in graph.ops:
        params = {r: tensors[n] for r, n in op.params.items()}
        out = fns[op.type](op, [values[t] for t in op.inputs], params,
                           [infos[t] for t in op.inputs])
        seen[op.outputs[0]] = values[op.outputs[0]] = out
        if op.outputs[0] in force:
            values[op.outputs[0]] = force[op.outputs[0]]
    return seen


def run(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """float32 logits (the reference interpreter's own ``run``, no forcing)."""
    return ref_interp.run(graph, tensors, x)
