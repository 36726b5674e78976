"""``bnnflow import MODEL.tflite -o MODEL.bnn``: import a Larq Compute Engine model.

Reads a ``.tflite`` file written by ``larq_compute_engine.convert_keras_model`` (float
inference type) and writes the same network as a ``.bnn`` file (docs/import.md). Needs the
``tflite`` package (``pip install 'bnnflow[import]'``); not TensorFlow, not torch.
"""

from __future__ import annotations

import argparse
import os


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("import", help="import a Larq Compute Engine .tflite model")
    p.add_argument("model", metavar="MODEL", help="a .tflite file converted by LCE")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .bnn to write")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError, check_output_file
    from bnnflow.convert.lce import TFLiteImportError, from_tflite
    from bnnflow.format import save

    if os.path.isdir(args.model):
        raise UsageError(f"{args.model} is a directory, expected a .tflite file")
    if not os.path.isfile(args.model):
        raise UsageError(f"{args.model}: no such file")
    check_output_file(args.output, "-o")
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
