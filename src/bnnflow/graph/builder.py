"""A small helper to build a :class:`Graph` and its param tensors op by op.

Example::

    b = GraphBuilder(InputSpec("image", (-1, 8, 8, 1), "uint8"))
    h = b.add("conv2d_int8", "stem", [b.input], {"stride": 1, "padding": 1},
              weights=w, bias=bias, zp=zp)
    ...
    graph, tensors = b.build(logits, classes=10)

Param tensors are stored in the container as ``"<op name>.<role>"``; output tensors are
named after the op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnnflow.graph.ir import Graph, InputSpec, Op, OutputSpec


class GraphBuilder:
    """Accumulates ops and param arrays; :meth:`build` returns ``(graph, tensors)``."""

    def __init__(self, input_spec: InputSpec, dataflow: str = "int8"):
        self.input_spec = input_spec
        self.dataflow = dataflow
        self.ops: list[Op] = []
        self.tensors: dict[str, np.ndarray] = {}

    @property
    def input(self) -> str:
        """Name of the graph input tensor."""
        return self.input_spec.name

    def add(self, op_type: str, name: str, inputs: list[str], attrs: dict[str, Any] | None = None,
            **params: np.ndarray) -> str:
        """Append an op; ``params`` are role -> array. Returns the output tensor name."""
        refs = {}
        for role, arr in params.items():
            key = f"{name}.{role}"
            self.tensors[key] = np.asarray(arr)
            refs[role] = key
        self.ops.append(Op(op_type, name, list(inputs), [name], dict(attrs or {}), refs))
        return name

    def build(self, output: str, classes: int, class_names: list[str] | None = None,
              metadata: dict[str, Any] | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
        """The graph with ``output`` as float32 logits of ``classes`` classes, and its params."""
        graph = Graph(list(self.ops), self.input_spec, OutputSpec(output, classes, class_names),
                      self.dataflow, dict(metadata or {}))
        return graph, dict(self.tensors)
