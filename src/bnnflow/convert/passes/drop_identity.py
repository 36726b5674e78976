"""Pass: remove nodes that compute the identity.

``identity`` nodes (``nn.Identity``, ``nn.Dropout`` in eval mode) always go. In the float
data-flow the ``int8point`` nodes go too: the float export computes the model with its
Int8Points as identities (docs/conversion.md, "float data-flow of a stage-2 model").
"""

from __future__ import annotations

from bnnflow.convert.lgraph import LGraph


def run(graph: LGraph, kinds: tuple[str, ...] = ("identity",)) -> None:
    """Drop every node whose kind is in ``kinds``; readers read its input instead."""
    for node in graph:
        if node.kind in kinds:
            graph.remove(node, node.inputs[0])
