"""``bnnflow plot DIR... [-o FILE.png]``: training curves of one or more runs."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot", help="plot train loss and test accuracy per epoch of training runs to a PNG"
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="training output directories")
    p.add_argument("-o", "--output", default="curves.png", metavar="FILE.png",
                   help="PNG to write (default: curves.png)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError
    from bnnflow.train.plot import PlotError, plot_runs

    if not str(args.output).lower().endswith(".png"):
        raise UsageError(f"-o {args.output!r}: the output must be a .png file")
    try:
        out = plot_runs(args.dirs, args.output)
    except PlotError as err:
        raise UsageError(str(err)) from err
    print(f"wrote {out}")
    return 0
