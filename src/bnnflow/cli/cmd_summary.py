"""``bnnflow summary MODEL [--json]``: per-op table, MACs and parameters by precision, file
size and peak activation memory of a ``.bnn`` model (torch-free)."""

from __future__ import annotations

import argparse
import json
import os


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("summary", help="per-op table, MACs, parameters and memory of a "
                              ".bnn model")
    p.add_argument("model", metavar="MODEL", help="a .bnn file")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.cmd_run import open_interpreter

    interp = open_interpreter(args.model, 1)
    summary = interp.summary()
    size = os.path.getsize(args.model)
    graph = interp.graph
    if args.json:
        doc = {"file": args.model, "file_bytes": size, "metadata": graph.metadata,
               **summary.as_dict()}
        print(json.dumps(doc, indent=2))
        return 0
    spec = graph.input_spec
    shape = "x".join("N" if d == -1 else str(d) for d in spec.shape)
    meta = graph.metadata
    print(f"{args.model}: {size:,} bytes, {graph.dataflow} data-flow, "
          f"model {meta.get('model') or meta.get('source', '?')}")
    print(f"input {spec.name} {shape} {spec.dtype}; output {graph.output_spec.classes} classes")
    print(summary.to_text())
    return 0
