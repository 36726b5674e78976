"""Side-by-side Markdown tables: larq-zoo's BiRealNet / QuickNet layers (from the checked-in
layer table) against bnnflow's birealnet18 / quicknet, layer for layer, with MACs.

    PYTHONPATH=src python3 benchmarks/layer_compare.py > out/layers.md
"""

from __future__ import annotations

import argparse

from bnnflow.bench.layers import larq_layers, model_layers, side_by_side
from bnnflow.bench.peers import load_layer_table
from bnnflow.models import birealnet18, quicknet

PAIRS = {"birealnet": ("birealnet18", birealnet18), "quicknet": ("quicknet", quicknet)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="birealnet,quicknet",
                        help="subset of birealnet,quicknet")
    args = parser.parse_args(argv)
    table = load_layer_table()
    for larq_name in args.models.split(","):
        ours_name, build = PAIRS[larq_name]
        larq = larq_layers(table, larq_name)
        ours = model_layers(build())
        binary = sum(r["macs"] for r in ours if r["signature"][6])
        real = sum(r["macs"] for r in ours if not r["signature"][6])
        print(f"#### larq-zoo `{larq_name}` vs bnnflow `{ours_name}`\n")
        print(f"{len(ours)} compute layers; bnnflow: {binary:,} binary MACs, {real:,} real MACs "
              f"per image (larq-zoo table: {table['models'][larq_name]['binary_macs']:,} / "
              f"{table['models'][larq_name]['real_macs']:,}). B = binary, R = real; "
              f"`k/s Cin→Cout @ HxW` (output size).\n")
        print(side_by_side(larq, ours))
        print()


if __name__ == "__main__":
    main()
