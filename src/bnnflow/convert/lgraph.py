"""The converter's working graph: model-level nodes that the passes rewrite step by step.

An :class:`LGraph` is a topologically ordered list of :class:`LNode`. Capture produces one node
per model operation (``conv``, ``bconv``, ``bn``, ``int8point``, ``sign``, ``add``, ...), with
float64 numpy parameters in ``attrs``; the passes fold, fuse and annotate them until every
node maps onto one or two ops of the catalogue (docs/conversion.md), which
:mod:`bnnflow.convert.emit` writes out. Shapes are the PyTorch ones without the batch
(``(C, H, W)`` or ``(C,)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bnnflow.convert.errors import ConversionError

#: Node kinds that end in a per-channel affine ``y = out_a·core + out_b`` (BN folds into it).
AFFINE_PRODUCERS = ("conv", "bconv", "linear", "blinear")


@dataclass
class LNode:
    """One node: ``name`` (unique, becomes the op name), ``kind``, input node names, the
    qualified ``module`` name it came from (for errors), output ``shape`` and ``attrs``."""

    name: str
    kind: str
    inputs: list[str]
    module: str
    shape: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.shape[0]

    def error(self, reason: str, op: str | None = None) -> ConversionError:
        """A :class:`ConversionError` naming this node's module and op."""
        return ConversionError(self.module, op or self.attrs.get("op", self.kind), reason)


@dataclass
class LGraph:
    """Nodes in topological order, the input node's name and the output node's name."""

    nodes: list[LNode]
    input: str
    output: str

    def __iter__(self) -> Iterator[LNode]:
        return iter(list(self.nodes))

    def node(self, name: str) -> LNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def consumers(self, name: str) -> list[LNode]:
        """Nodes that read ``name`` (the graph output counts as a consumer of its node)."""
        return [n for n in self.nodes if name in n.inputs]

    def is_output(self, name: str) -> bool:
        return self.output == name

    def only_consumer(self, name: str) -> LNode | None:
        """The single node reading ``name`` (``None`` if there are several, none, or ``name``
        is also the graph output)."""
        users = self.consumers(name)
        if len(users) != 1 or self.is_output(name):
            return None
        return users[0]

    def remove(self, node: LNode, replacement: str) -> None:
        """Drop ``node``; its readers (and the output) read ``replacement`` instead."""
        self.nodes.remove(node)
        for n in self.nodes:
            n.inputs = [replacement if i == node.name else i for i in n.inputs]
        if self.output == node.name:
            self.output = replacement

    def insert_after(self, anchor: LNode, node: LNode) -> None:
        """Insert ``node`` right after ``anchor``; readers of ``anchor`` are not rewired."""
        self.nodes.insert(self.nodes.index(anchor) + 1, node)

    def unique_name(self, base: str) -> str:
        names = {n.name for n in self.nodes}
        if base not in names:
            return base
        i = 2
        while f"{base}#{i}" in names:
            i += 1
        return f"{base}#{i}"
