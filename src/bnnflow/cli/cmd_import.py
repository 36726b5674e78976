"""``bnnflow import MODEL.tflite -o MODEL.bnn``: import a Larq Compute Engine model.

Reads a ``.tflite`` file written by ``larq_compute_engine.convert_keras_model`` (float
inference type) and writes the same network as a ``.bnn`` file (docs/import.md). Needs the
``tflite`` package (``pip install 'bnnflow[import]'``); not TensorFlow, not torch.

``bnnflow import --to-torch MODEL.h5 --model birealnet18 -o model.pt``: load a larq-zoo Keras
weight file into bnnflow's PyTorch model (:func:`bnnflow.models.from_keras`, needs ``h5py``)
and write a stage-1 training checkpoint (``bnnflow train --init``, ``bnnflow export``).
"""

from __future__ import annotations

import argparse
import os


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("import", help="import a Larq Compute Engine .tflite model")
    p.add_argument("model", metavar="MODEL", help="a .tflite file converted by LCE (or, with "
                   "--to-torch, a Keras .h5 weight file)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the .bnn to write (--to-torch: the .pt checkpoint)")
    p.add_argument("--to-torch", action="store_true",
                   help="load Keras .h5 weights into bnnflow's PyTorch model --model")
    p.add_argument("--model", dest="torch_model", default="birealnet18", metavar="NAME",
                   help="--to-torch: birealnet18 (default), birealnet34 or quicknet")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="--to-torch: model builder argument (VALUE parsed as JSON), e.g. "
                   "filters=32; repeatable")
    p.add_argument("--normalize", choices=("keras", "imagenet"), default="keras",
                   help="--to-torch: the model reads the Keras model's input (default) or "
                   "raw pixels 0..255 (bnnflow's ImageNet normalisation)")
    p.add_argument("--image-size", type=int, metavar="N",
                   help="--to-torch: record NxN input in the checkpoint (for export)")
    p.set_defaults(func=run)
    return p


def run_to_torch(args: argparse.Namespace) -> int:
    import torch

    from bnnflow.cli.cmd_train import parse_model_args
    from bnnflow.cli.main import UsageError
    from bnnflow.models import KerasImportError, from_keras
    from bnnflow.models.keras import keras_checkpoint

    kwargs = parse_model_args(args.model_arg)
    try:
        net = from_keras(args.model, args.torch_model, normalize=args.normalize, **kwargs)
    except ModuleNotFoundError as err:
        raise UsageError(str(err)) from err
    except ValueError as err:  # KerasImportError, or the builder's argument errors
        raise UsageError(str(err) if isinstance(err, KerasImportError)
                         else f"{args.model}: {err}") from err
    size = (args.image_size, args.image_size) if args.image_size else None
    torch.save(keras_checkpoint(net, args.torch_model, kwargs, size), args.output)
    params = sum(p.numel() for p in net.parameters())
    print(f"wrote {args.output}: {args.torch_model} (tf_padding=True) with {params:,} "
          f"parameters from {args.model}")
    return 0


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError, check_output_file
    from bnnflow.convert.lce import TFLiteImportError, from_tflite
    from bnnflow.format import save

    if os.path.isdir(args.model):
        raise UsageError(f"{args.model} is a directory, expected a .tflite file")
    if not os.path.isfile(args.model):
        raise UsageError(f"{args.model}: no such file")
    check_output_file(args.output, "-o")
    if args.to_torch:
        return run_to_torch(args)
    try:
        graph, tensors = from_tflite(args.model)
    except ModuleNotFoundError as err:
        raise UsageError(str(err)) from err
    except TFLiteImportError as err:
        raise UsageError(f"{args.model}: {err}") from err
    except OSError as err:  # unreadable (permissions, a FIFO gone, ...)
        raise UsageError(f"{args.model}: cannot be read ({err.strerror or err})") from err
    save(args.output, graph, tensors)
    counts: dict[str, int] = {}
    for op in graph.ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    ops = ", ".join(f"{n} {t}" for t, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"wrote {args.output}: {len(graph.ops)} ops ({ops}), "
          f"{os.path.getsize(args.output):,} bytes")
    for note in graph.metadata.get("import_notes", []):
        print(f"note: {note}")
    return 0
