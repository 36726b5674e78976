"""The conversion pipeline: capture → passes → emit (docs/conversion.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bnnflow.convert import capture as capture_mod
from bnnflow.convert import emit as emit_mod
from bnnflow.convert.errors import ConversionError
from bnnflow.convert.lgraph import LGraph, LNode
from bnnflow.convert.passes import (
    assign_scales,
    check_int8,
    drop_identity,
    fixed_point,
    fold_bn,
    fold_sign,
    fuse_activation,
    layouts,
    pack_weights,
    packed_pool,
)
from bnnflow.errors import FormatError
from bnnflow.graph import Graph

DATAFLOWS = ("int8", "float")


def lower(graph: LGraph, dataflow: str) -> LGraph:
    """Run the passes of ``dataflow`` on a captured graph, in place; returns it."""
    if dataflow == "int8":
        check_int8.run(graph)
        drop_identity.run(graph)
    else:
        drop_identity.run(graph, ("identity", "int8point"))
    fuse_activation.run(graph)
    fold_bn.run(graph)
    fold_sign.run(graph)
    packed_pool.run(graph)
    layouts.check_sign_readers(graph)
    if dataflow == "int8":
        assign_scales.run(graph)
        fixed_point.run(graph)
    layouts.run(graph, dataflow)
    pack_weights.run(graph)
    return graph


def convert(model: Any, example_input: Any, dataflow: str = "int8",
            class_names: list[str] | None = None,
            metadata: dict[str, Any] | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
    """Convert a bnnflow model to ``(graph, tensors)`` of the op catalogue.

    Args:
        model: a ``torch.nn.Module`` built from bnnflow.nn layers (it is not modified; a
            deep copy is traced in eval mode).
        example_input: one batch ``[N, C, H, W]`` (float raw pixels 0..255 for the bnnflow
            models) that fixes the input shape.
        dataflow: ``'int8'`` (BNN-Clip, integer only; needs a calibrated stage-2 model) or
            ``'float'`` (float32 glue; any model: Int8Points are identities, the weights are
            those the model computes with — fake-quantised in stage 2 — and clipping stays).
        class_names: optional names of the output classes.
        metadata: JSON-able extras stored in the graph.

    Raises:
        ConversionError: naming the module, the op and the reason.
    """
    if dataflow not in DATAFLOWS:
        raise ConversionError("", "convert", f"dataflow must be one of {DATAFLOWS}, got "
                              f"{dataflow!r}")
    lgraph = lower(capture_mod.capture(model, example_input), dataflow)
    meta = {"source": type(model).__name__, **dict(metadata or {})}
    graph, tensors, origin = emit_mod.emit(lgraph, dataflow, class_names, meta)
    if class_names is not None and len(class_names) != graph.output_spec.classes:
        raise ConversionError("", "output", f"{len(class_names)} class names for "
                              f"{graph.output_spec.classes} classes")
    check_file(graph, tensors, origin)
    return graph, tensors


def check_file(graph: Graph, tensors: dict[str, np.ndarray],
               origin: Mapping[str, LNode]) -> None:
    """Validate the result exactly as :func:`bnnflow.format.save` and ``load`` will (every
    schema rule and engine limit of docs/format.md, the fixed-point overflow rule, JSON
    metadata), so that a model the file cannot hold is refused here, by ``convert``.

    Raises:
        ConversionError: naming the module the offending op came from and the rule.
    """
    from bnnflow.format import dumps

    try:
        dumps(graph, tensors)
    except FormatError as err:
        node = origin.get(err.op or "")
        if node is None:
            raise ConversionError("", "export", f"the result is not a valid .bnn file: "
                                  f"{err}") from err
        raise node.error(f"the result breaks a rule of the .bnn format (docs/format.md): "
                         f"{err}") from err


def export(model: Any, path: Any, example_input: Any, dataflow: str = "int8",
           class_names: list[str] | None = None,
           metadata: dict[str, Any] | None = None) -> Graph:
    """:func:`convert` and write the ``.bnn`` file at ``path`` (validated before writing)."""
    from bnnflow.format import save

    graph, tensors = convert(model, example_input, dataflow, class_names, metadata)
    save(path, graph, tensors)
    return graph
