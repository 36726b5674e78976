"""Merge driver result files into a Markdown table (and optionally a PNG chart).

    PYTHONPATH=src python3 benchmarks/report.py out/peers/*.json --plot out/peers/bench.png

Rows are sorted by batch, threads, model, engine; sub-variants (``torch-jit``,
``onnxruntime-int8-u8s8``, ...) are shown only with ``--variants``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bnnflow.bench.peers import PEERS, parse_results

HEADER = (
    "| engine | model | threads | batch | median ms | min ms | max ms | ms / image (median) "
    "| runs | setting |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def load(paths: list[str], variants: bool) -> list[dict]:
    """Records of every file, validated; variants dropped unless asked for."""
    recs = []
    known = {p.engine for p in PEERS.values()}
    for p in paths:
        for r in parse_results(Path(p).read_text(), p):
            if variants or r["engine"] in known or r["engine"].startswith("bnnflow"):
                recs.append(r)
    return recs


def markdown(recs: list[dict]) -> str:
    """One table row per record."""
    rows = [HEADER]
    for r in sorted(recs, key=lambda r: (r["batch"], r["threads"], r["model"], r["engine"])):
        setting = r.get("setting", "")
        if "variant" in r:
            setting = f"{r['variant']}: {setting}"
        rows.append(
            f"| {r['engine']} | {r['model']} | {r['threads']} | {r['batch']} "
            f"| {r['median_ms']:.2f} | {r['min_ms']:.2f} | {r['max_ms']:.2f} "
            f"| {r['median_ms'] / r['batch']:.2f} | {r['runs']} | {setting} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--variants", action="store_true", help="also list sub-variants")
    parser.add_argument("--plot", default=None, help="also draw a PNG chart here")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    recs = load(args.files, args.variants)
    print(markdown(recs))
    if args.plot:
        from bnnflow.bench.plot import plot_results

        plot_results(recs, args.plot, title=args.title)


if __name__ == "__main__":
    main()
