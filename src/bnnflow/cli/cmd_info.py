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
    from bnnflow.cli.main import UsageError

    try:
        active = cpu.active_isa()
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"{err} (unset BNNFLOW_ISA or name one of: "
                         f"{', '.join(cpu.supported_isas())})") from err
    info = {
        "version": bnnflow.__version__,
        "features": cpu.cpu_features(),
        "supported_isas": cpu.supported_isas(),
        "active_isa": active,
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
