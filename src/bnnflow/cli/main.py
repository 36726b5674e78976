"""Entry point of the ``bnnflow`` command.

Subcommands are discovered: every module ``bnnflow.cli.cmd_<name>`` defines

    def add_parser(subparsers) -> argparse.ArgumentParser   # sets ``func=run``
    def run(args: argparse.Namespace) -> int

Modules here must not import torch at import time (``bnnflow run`` works without it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import bnnflow
import bnnflow.cli


class UsageError(Exception):
    """A bad command-line argument; printed without a traceback."""


def check_output_file(path: str, option: str) -> None:
    """Fail early (before any work) when ``path`` cannot be written as a file: a directory
    (or a name ending in a separator), or a parent directory that is missing or not
    writable. ``option`` names the argument in the message."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: directory {parent} is not writable")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnnflow", description="Train, convert and run binary neural networks."
    )
    parser.add_argument("--version", action="version", version=f"bnnflow {bnnflow.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = sorted(
        m.name for m in pkgutil.iter_modules(bnnflow.cli.__path__) if m.name.startswith("cmd_")
    )
    for name in names:
        importlib.import_module(f"bnnflow.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Subcommands with a list of positionals (``run MODEL IMAGE...``) name it in
    # ``extra_positionals`` so that they may come on both sides of options: argparse leaves
    # the ones after an option unparsed.
    args, extra = parser.parse_known_args(argv)
    dest = getattr(args, "extra_positionals", None)
    if extra:
        if dest is None or any(a.startswith("-") for a in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        setattr(args, dest, [*getattr(args, dest), *extra])
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"bnnflow {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bnnflow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # `python -m bnnflow.cli.main` (and torchrun -m) runs this file as __main__: call the
    # imported module's main so that its UsageError is the one the subcommands raise.
    from bnnflow.cli.main import main as _imported_main

    sys.exit(_imported_main())
