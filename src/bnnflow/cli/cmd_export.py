"""``bnnflow export CKPT -o model.bnn --dataflow int8|float``: convert a training checkpoint.

``int8`` (the BNN-Clip data-flow, integer only) needs a stage-2 checkpoint; ``float`` (float32
glue) takes stage 1 or stage 2 (a stage-2 model is exported with its Int8Points as identities:
no activation fake-quant, weights and clipping as the model computes them). See
docs/conversion.md.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("export", help="convert a training checkpoint to a .bnn model")
    p.add_argument("checkpoint", metavar="CKPT", help="a .pt checkpoint written by train")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .bnn to write")
    p.add_argument("--dataflow", choices=("int8", "float"), default="int8",
                   help="int8: BNN-Clip integer-only (needs stage 2); float: float32 glue "
                        "(default: int8)")
    p.add_argument("--input-shape", metavar="C,H,W",
                   help="input shape when the checkpoint does not record its data set")
    p.set_defaults(func=run)
    return p


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"3,224,224"`` → ``(3, 224, 224)``; UsageError for anything else."""
    from bnnflow.cli.main import UsageError

    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise UsageError(f"--input-shape must be C,H,W with positive integers, got {text!r}")
    return dims  # type: ignore[return-value]


def input_shape(info: dict[str, Any], override: str | None) -> tuple[int, int, int]:
    """(C, H, W) from ``--input-shape`` or the checkpoint's data set description."""
    from bnnflow.cli.main import UsageError

    if override:
        return parse_shape(override)
    data = info.get("data") or {}
    size = data.get("image_size")
    channels = data.get("in_channels")
    if not size or not channels:
        raise UsageError("the checkpoint does not record its input shape; pass --input-shape "
                         "C,H,W")
    return int(channels), int(size[0]), int(size[1])


def export_model(model: Any, info: dict[str, Any], path: str, dataflow: str,
                 shape: tuple[int, int, int]) -> Any:
    """Convert ``model`` (from a checkpoint with ``info``) and write ``path``; returns the
    graph. Raises ConversionError."""
    import torch

    from bnnflow.convert import export

    data = info.get("data") or {}
    names = data.get("class_names") or None
    metadata = {"model": info.get("name"), "model_kwargs": info.get("kwargs", {}),
                "stage": info.get("stage"), "epoch": info.get("epoch"),
                "data": data.get("spec"),
                "test_acc": (info.get("metrics") or {}).get("test_acc")}
    example = torch.zeros(1, *shape)
    return export(model, path, example, dataflow, class_names=names, metadata=metadata)


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError, check_output_file
    from bnnflow.convert import ConversionError
    from bnnflow.format import file_kind
    from bnnflow.train import CheckpointError, ModelError, load_model

    kind = file_kind(args.checkpoint)
    if kind == "directory":
        raise UsageError(f"{args.checkpoint} is a directory, expected a training checkpoint")
    if kind == "safetensors":
        raise UsageError(f"{args.checkpoint} is a .bnn model (safetensors): export takes a "
                         "training checkpoint (.pt written by `bnnflow train`)")
    check_output_file(args.output, "-o")
    try:
        model, info = load_model(args.checkpoint)
    except (CheckpointError, ModelError) as err:
        raise UsageError(str(err)) from err
    shape = input_shape(info, args.input_shape)
    if info.get("real_weights"):
        raise UsageError(f"{args.checkpoint} is a step-1 checkpoint of the two-step schedule: "
                         "its binary layers have real weights, which no .bnn data-flow "
                         "holds; export step 2 (OUT/step2/last.pt) or its stage-2 fine-tune")
    if args.dataflow == "int8" and info.get("stage") == 1:
        raise UsageError(f"{args.checkpoint} is a stage-1 checkpoint; the int8 data-flow needs "
                         "a stage-2 (BNN-Clip) model: bnnflow train --stage 2 --init "
                         f"{args.checkpoint} ..., or export with --dataflow float")
    try:
        graph = export_model(model, info, args.output, args.dataflow, shape)
    except ConversionError as err:
        raise UsageError(str(err)) from err
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: {info.get('name')} (stage {info.get('stage')}), "
          f"{args.dataflow} data-flow, {len(graph.ops)} ops, {size:,} bytes")
    return 0
