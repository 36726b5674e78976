"""Pass: a max pool on binarized data becomes ``maxpool_packed``.

On ±1 values the maximum over a window is +1 unless every tap is −1, so on bits (−1 = 1) it
is the AND of the bits over the taps inside the image (numerics.md §5; PyTorch pads a max
pool with −inf, so padded taps are ignored in both). A ``maxpool`` whose input is packed —
a ``sign``, a binary layer with the packed epilogue, or another packed pool — becomes kind
``maxpool_packed``; its readers must be binary layers (checked by :mod:`layouts`).
"""

from __future__ import annotations

from bnnflow.convert.lgraph import LGraph, LNode


def is_packed(graph: LGraph, node: LNode) -> bool:
    """Whether ``node`` produces packed bits."""
    return (node.kind in ("sign", "maxpool_packed")
            or node.attrs.get("epilogue") == "packed")


def run(graph: LGraph) -> None:
    for node in graph:
        if node.kind == "maxpool" and is_packed(graph, graph.node(node.inputs[0])):
            node.kind = "maxpool_packed"
