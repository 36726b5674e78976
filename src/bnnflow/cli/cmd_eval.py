"""``bnnflow eval CKPT [--data SPEC] [--json FILE]``: test accuracy of a checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="evaluate a training checkpoint on a test split")
    p.add_argument("checkpoint", metavar="CKPT", help="a .pt checkpoint written by train")
    p.add_argument("--data", help="data set (default: the one the checkpoint was trained on)")
    p.add_argument("--image-size", type=int, help="imagefolder: resize images to N x N")
    p.add_argument("--batch-size", type=int, default=256, help="evaluation batch size (256)")
    p.add_argument("--json", metavar="FILE", help="write accuracy and predictions as JSON")
    p.set_defaults(func=run)
    return p


def evaluate_checkpoint(path: str, data_spec: str | None, image_size: int | None,
                        batch_size: int) -> dict:
    """Accuracy and per-image predictions (test-set order) of checkpoint ``path``."""
    from bnnflow.cli.main import UsageError
    from bnnflow.train.checkpoint import load_model
    from bnnflow.train.data import load_data
    from bnnflow.train.trainer import predict

    model, info = load_model(path)
    spec = data_spec or info["data"].get("spec")
    if not spec:
        raise UsageError(f"checkpoint {path!r} does not record its data set; pass --data")
    if image_size is None and info["config"].get("image_size"):
        image_size = info["config"]["image_size"]
    data = load_data(spec, image_size, info["config"].get("transforms") or "resize")
    expected = info["data"].get("num_classes")
    if expected is not None and expected != data.num_classes:
        raise UsageError(
            f"--data {spec}: {data.num_classes} classes, the model was trained on {expected}"
        )
    preds = predict(model, data.test, batch_size=batch_size)
    correct = int((preds == data.test.labels).sum())
    return {
        "checkpoint": str(path),
        "model": info["name"],
        "stage": info["stage"],
        "int8": info["int8"],
        "data": spec,
        "count": len(data.test),
        "correct": correct,
        "accuracy": correct / len(data.test),
        "predictions": [int(p) for p in preds],
    }


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError
    from bnnflow.train import CheckpointError, DataError, ModelError

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        result = evaluate_checkpoint(args.checkpoint, args.data, args.image_size,
                                     args.batch_size)
    except (CheckpointError, DataError, ModelError) as err:
        raise UsageError(str(err)) from err
    print(f"{result['model']} (stage {result['stage']}) on {result['data']}: "
          f"accuracy {result['accuracy']:.4f} ({result['correct']}/{result['count']})")
    if args.json:
        Path(args.json).write_text(json.dumps(result) + "\n")
    return 0
