"""Graph-level reference interpreter: runs a validated graph op by op on the per-op numpy
reference functions (the executable spec of docs/numerics.md).

:func:`run` returns the float32 logits; :func:`run_all` returns every activation, which the
engine tests compare with the runtime's, tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from bnnflow.graph import Graph, Op, validate

#: ``fn(op, inputs, params) -> output``: one op on numpy arrays (params: role -> array).
RefOp = Callable[[Op, list[np.ndarray], Mapping[str, np.ndarray]], np.ndarray]


def run_all(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray, *,
            table: Mapping[str, RefOp] | None = None, check: bool = True
            ) -> dict[str, np.ndarray]:
    """Run ``graph`` on batch ``x``; return every activation by name (the input included).

    Args:
        graph, tensors: the model (``tensors``: the container's params).
        x: a batch in the layout of ``graph.input_spec``.
        table: op type -> reference function (default: :func:`reference_table`).
        check: validate the graph against ``tensors`` first (skip only for graphs that
            :func:`bnnflow.format.load` or :func:`bnnflow.graph.validate` already checked).

    Raises:
        ValueError: ``x`` does not match the input spec.
        FormatError: the graph is invalid (when ``check``).
    """
    if check:
        validate(graph, tensors)
    table = reference_table() if table is None else table
    values: dict[str, np.ndarray] = {graph.input_spec.name: graph.input_spec.check(x)}
    for op in graph.ops:
        fn = table.get(op.type)
        if fn is None:
            raise NotImplementedError(f"op {op.name!r}: no reference function for op type "
                                      f"{op.type!r}")
        params = {role: tensors[name] for role, name in op.params.items()}
        values[op.outputs[0]] = fn(op, [values[t] for t in op.inputs], params)
    return values


def run(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray, *,
        table: Mapping[str, RefOp] | None = None, check: bool = True) -> np.ndarray:
    """float32 logits ``[N, classes]`` of ``graph`` on batch ``x`` (see :func:`run_all`)."""
    return run_all(graph, tensors, x, table=table, check=check)[graph.output_spec.name]


_TABLE: dict[str, RefOp] | None = None


def reference_table() -> dict[str, RefOp]:
    """Op type -> reference function adapter ``fn(op, inputs, params)`` over the per-op
    modules of :mod:`bnnflow.reference` (built once)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    return _TABLE


def _build_table() -> dict[str, RefOp]:
    return {}
