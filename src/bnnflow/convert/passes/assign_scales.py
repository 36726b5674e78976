"""Pass (int8 data-flow): give every int8 tensor its scale ``S`` and absorb the Int8Points.

An ``int8point`` node with frozen scale ``S`` marks its input tensor as int8 of scale ``S``:
the producer gets ``attrs['S'] = S`` and the Int8Point goes (the producer's requant lands on
exactly the Int8Point's integers, docs/conversion.md). A second Int8Point on an already
scaled tensor becomes a ``requant`` node (``M·2^−s ≈ S_in/S``).

Tensors without an Int8Point: ``maxpool``, ``flatten``, ``channel_shuffle`` and ReLU keep
their input's scale (exact: they commute with a positive scale); ``sign``, packed-epilogue
binary layers and packed max pools make bits; the graph output makes float logits;
``normalize`` feeds the uint8 stem. Anything else needs an Int8Point and raises
:class:`~bnnflow.convert.ConversionError`.

``concat`` (``torch.cat``): with an Int8Point after it, its scale ``S`` goes back to every
input that has no Int8Point and is read only by the concat (its op writes straight at ``S``),
and an input of another scale gets a ``requant`` to ``S`` in front of the concat; without
one, every input must have the same scale, which the concat keeps.
"""

from __future__ import annotations

from bnnflow.convert.lgraph import LGraph, LNode

PASSTHROUGH = ("maxpool", "flatten", "channel_shuffle")
NO_SCALE = ("input", "normalize", "sign", "maxpool_packed")


def _absorb(graph: LGraph, point: LNode) -> None:
    src = graph.node(point.inputs[0])
    if src.kind in NO_SCALE or src.attrs.get("epilogue") == "packed":
        raise point.error(f"an Int8Point on the output of {src.attrs.get('op', src.kind)} "
                          f"{src.module!r} is not supported")
    if "S" in src.attrs:
        point.kind = "requant"
        point.attrs["op"] = "Int8Point"
        return
    others = [u for u in graph.consumers(src.name) if u is not point]
    if others or graph.is_output(src.name):
        raise point.error(f"the output of {src.module!r} is read both before and after this "
                          "Int8Point; the int8 data-flow needs every reader after it")
    src.attrs["S"] = point.attrs["S"]
    src.attrs["S_from"] = point.module
    graph.remove(point, src.name)


def _is_relu(node: LNode) -> bool:
    return node.kind == "pwl" and bool(node.attrs.get("relu"))


def _concat_inputs(graph: LGraph, cat: LNode) -> None:
    """Give the concat's scale to its unscaled inputs; requantise the others to it."""
    S = cat.attrs["S"]
    for i, name in enumerate(list(cat.inputs)):
        src = graph.node(name)
        if "S" not in src.attrs and src.kind not in NO_SCALE and \
                src.attrs.get("epilogue") != "packed" and graph.only_consumer(name) is cat:
            src.attrs["S"] = S
        elif src.attrs.get("S") != S:
            req = LNode(graph.unique_name(f"{cat.name}:requant{i}"), "requant", [name],
                        cat.module, src.shape, {"op": "cat", "S": S})
            graph.nodes.insert(graph.nodes.index(cat), req)
            cat.inputs[i] = req.name


def _concat_scale(graph: LGraph, cat: LNode) -> None:
    """A concat without an Int8Point: every input of one scale, which it keeps."""
    scales = {graph.node(i).attrs.get("S") for i in cat.inputs}
    if None in scales or len(scales) != 1:
        raise cat.error("torch.cat of int8 tensors of different scales (or of a tensor "
                        "without an Int8Point) needs an Int8Point after it")
    cat.attrs["S"] = scales.pop()


def run(graph: LGraph) -> None:
    for node in graph:
        if node.kind == "int8point":
            _absorb(graph, node)
    for node in graph:
        if node.kind == "concat" and "S" in node.attrs:
            _concat_inputs(graph, node)
    for node in graph:
        if node.kind == "concat" and "S" not in node.attrs:
            _concat_scale(graph, node)
            continue
        if "S" in node.attrs or node.kind in NO_SCALE:
            continue
        if node.attrs.get("epilogue") == "packed" or graph.is_output(node.name):
            continue
        if node.kind in PASSTHROUGH or _is_relu(node):
            src = graph.node(node.inputs[0])
            if "S" not in src.attrs:
                raise node.error(f"its input {src.module!r} is not an int8 tensor (no "
                                 "Int8Point)")
            node.attrs["S"] = src.attrs["S"]
            continue
        raise node.error("its output needs an Int8Point in the int8 data-flow (every glue "
                         "tensor is int8 with a frozen scale)")
