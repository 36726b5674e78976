"""``bnnflow info``: version, CPU features and the ISA the engine will use."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("info", help="show the version, CPU features and active ISA")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import bnnflow
    from bnnflow import cpu

    info = {
        "version": bnnflow.__version__,
        "features": cpu.cpu_features(),
        "supported_isas": cpu.supported_isas(),
        "active_isa": cpu.active_isa(),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"bnnflow {info['version']}")
    print("supported ISAs: " + ", ".join(info["supported_isas"]))
    print(f"active ISA:     {info['active_isa']}")
    present = [k for k, v in info["features"].items() if v]
    print("CPU features:   " + (", ".join(present) if present else "(none of interest)"))
    return 0
