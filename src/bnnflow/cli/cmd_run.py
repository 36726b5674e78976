"""``bnnflow run MODEL IMAGE... [--top K]`` and ``bnnflow run MODEL --data SPEC [--json F]``.

Inference goes through :class:`bnnflow.runtime.Interpreter` (torch-free). Image files (PNG,
JPEG, ... through Pillow) are converted to the model's channels and resized to its input
size. ``--data`` evaluates the test split of a data set (loaded with bnnflow.train, which
needs the ``train`` extra) and reports the same JSON as ``bnnflow eval``: ``accuracy`` and
``predictions`` in test-set order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("run", help="run a .bnn model on images or a data set")
    p.add_argument("model", metavar="MODEL", help="a .bnn file")
    p.add_argument("images", metavar="IMAGE", nargs="*", help="image files (PNG, JPEG, ...)")
    p.add_argument("--top", type=int, default=3, metavar="K", help="classes to show (3)")
    p.add_argument("--data", metavar="SPEC", help="evaluate a data set's test split instead "
                   "(digits, cifar10:DIR, imagefolder:DIR)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--threads", type=int, default=1, help="engine threads (1 to 256; 1)")
    p.add_argument("--batch-size", type=int, default=256, help="--data batch size (256)")
    p.add_argument("--transforms", choices=("resize", "imagenet"), default="resize",
                   help="--data imagefolder: square resize (default) or the ImageNet "
                   "evaluation transform (shorter side 256/224, centre crop) of models "
                   "trained with --transforms imagenet")
    p.set_defaults(func=run, extra_positionals="images")
    return p


def open_interpreter(path: str, threads: int) -> Any:
    """The :class:`Interpreter` of ``path``; UsageError for a missing, invalid or wrong-type
    file (a directory, a PyTorch checkpoint) or a bad ``BNNFLOW_ISA``."""
    from bnnflow import cpu
    from bnnflow.cli.main import UsageError
    from bnnflow.errors import FormatError
    from bnnflow.format import file_kind
    from bnnflow.runtime import Interpreter

    kind = file_kind(path)
    if kind == "missing":
        raise UsageError(f"model {path!r} does not exist")
    if kind == "directory":
        raise UsageError(f"model {path!r} is a directory, expected a .bnn file")
    if kind == "torch":
        raise UsageError(f"{path} looks like a PyTorch checkpoint: export it first with "
                         f"`bnnflow export {path} -o model.bnn`")
    try:
        cpu.active_isa()
    except (ValueError, RuntimeError) as err:
        raise UsageError(str(err)) from err
    try:
        return Interpreter(path, num_threads=threads)
    except FormatError as err:
        raise UsageError(f"{path}: {err}") from err


def load_image(path: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """One image file as ``[H, W, C]`` of ``dtype`` (raw pixel values 0..255)."""
    from PIL import Image, UnidentifiedImageError

    from bnnflow.cli.main import UsageError

    _, h, w, c = shape
    if c not in (1, 3):
        raise UsageError(f"the model takes {c}-channel input; only 1 (grey) and 3 (RGB) "
                         "channel images are supported")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise UsageError(f"cannot read image {path!r}: {err}") from err
    return arr.reshape(h, w, c).astype(dtype)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def classify_images(interp: Any, paths: list[str], top: int) -> list[dict[str, Any]]:
    """Top-``top`` classes (name, probability, logit) of every image."""
    spec = interp.input_spec
    batch = np.stack([load_image(p, spec.shape, spec.dtype) for p in paths])
    logits = interp.run(batch)
    probs = softmax(logits.astype(np.float64))
    names = interp.output_spec.class_names or [str(i) for i in range(logits.shape[1])]
    results = []
    for path, lg, pr in zip(paths, logits, probs, strict=True):
        order = np.argsort(-lg, kind="stable")[:top]
        results.append({"image": path, "top": [
            {"class": int(k), "name": names[k], "probability": float(pr[k]),
             "logit": float(lg[k])} for k in order]})
    return results


def to_input(images: Any, dtype: str) -> np.ndarray:
    """NCHW torch/numpy pixels → NHWC numpy of ``dtype``."""
    arr = np.asarray(images)
    arr = np.ascontiguousarray(arr.transpose(0, 2, 3, 1))
    return np.clip(np.round(arr), 0, 255).astype(dtype) if dtype == "uint8" else \
        arr.astype(dtype)


def evaluate_data(interp: Any, spec: str, batch_size: int, transforms: str = "resize"
                  ) -> dict[str, Any]:
    """Accuracy and predictions (test-set order) of the engine on ``spec``'s test split."""
    import torch

    from bnnflow.cli.main import UsageError
    from bnnflow.train.data import DataError, load_data

    shape = interp.input_spec.shape
    try:
        data = load_data(spec, shape[1] if spec.startswith("imagefolder") else None,
                         transforms)
    except DataError as err:
        raise UsageError(str(err)) from err
    if list(data.image_size) != [shape[1], shape[2]] or data.in_channels != shape[3]:
        raise UsageError(f"--data {spec}: images are {data.in_channels}x{data.image_size[0]}x"
                         f"{data.image_size[1]}, the model takes {shape[3]}x{shape[1]}x"
                         f"{shape[2]}")
    preds: list[int] = []
    n = len(data.test)
    all_labels = []
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size))
        images, y = data.test.fetch(idx)
        logits = interp.run(to_input(images.numpy(), interp.input_spec.dtype))
        preds += [int(v) for v in logits.argmax(axis=1)]
        all_labels += [int(v) for v in y]
    correct = sum(int(p == y) for p, y in zip(preds, all_labels, strict=True))
    return {"data": spec, "count": n, "correct": correct, "accuracy": correct / max(n, 1),
            "predictions": preds}


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError, check_output_file
    from bnnflow.runtime.interpreter import MAX_THREADS

    if args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    if not 1 <= args.threads <= MAX_THREADS:
        raise UsageError(f"--threads must be in [1, {MAX_THREADS}], got {args.threads}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if bool(args.images) == bool(args.data):
        raise UsageError("give image files or --data SPEC (one of the two)")
    if args.json:
        check_output_file(args.json, "--json")
    interp = open_interpreter(args.model, args.threads)
    if args.data:
        result = {"model": args.model, "dataflow": interp.graph.dataflow,
                  **evaluate_data(interp, args.data, args.batch_size, args.transforms)}
        print(f"{args.model} ({result['dataflow']} data-flow) on {args.data}: accuracy "
              f"{result['accuracy']:.4f} ({result['correct']}/{result['count']})")
        out: Any = result
    else:
        out = classify_images(interp, args.images, args.top)
        for item in out:
            best = ", ".join(f"{t['name']} {t['probability']:.3f}" for t in item["top"])
            print(f"{item['image']}: {best}")
    if args.json:
        Path(args.json).write_text(json.dumps(out) + "\n")
    return 0
