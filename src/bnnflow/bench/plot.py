"""Grouped bar chart of benchmark records (bnnflow and peers) as a PNG.

Input: the record list of :mod:`bnnflow.bench.peers` (``model``, ``engine``, ``threads``,
``batch``, ``median_ms``, ``min_ms``, ``max_ms``). Layout: one panel per (batch, threads)
pair — rows are batch sizes, columns thread counts; in a panel, one group of bars per model,
one bar per engine (same colour for an engine in every panel), height = median milliseconds
per call (or per image with ``per_image=True``), a whisker from min to max, and the median
written above the whisker. Needs matplotlib (drawn with the Agg backend, no display).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bnnflow.bench.peers import parse_results


def _ordered(values: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def plot_results(
    records: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    per_image: bool = False,
) -> Path:
    """Draw ``records`` into the PNG file ``path`` and return its path.

    ``ValueError`` when ``records`` is empty or a record is malformed (the message names the
    record and field), or when ``path`` does not end in ``.png``."""
    import json

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png, got {str(out)!r}")
    if not records:
        raise ValueError("records: nothing to plot (empty list)")
    recs = parse_results(json.dumps(list(records)), "records")

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    batches = sorted({r["batch"] for r in recs})
    threads = sorted({r["threads"] for r in recs})
    engines = _ordered([r["engine"] for r in recs])
    models = _ordered([r["model"] for r in recs])
    colors = {e: plt.get_cmap("tab10")(i % 10) for i, e in enumerate(engines)}
    index = {(r["model"], r["engine"], r["threads"], r["batch"]): r for r in recs}

    panel_w = max(5.0, 0.6 * len(models) * len(engines) + 3)
    fig, axes = plt.subplots(
        len(batches),
        len(threads),
        figsize=(min(panel_w, 12.0) * len(threads), 3.6 * len(batches) + 0.8),
        squeeze=False,
    )
    for bi, batch in enumerate(batches):
        for ti, nthr in enumerate(threads):
            _panel(axes[bi][ti], index, models, engines, colors, nthr, batch, per_image)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[e]) for e in engines]
    ncol = min(len(engines), 5)
    legend_h = 0.3 * (-(-len(engines) // ncol)) / fig.get_figheight()  # rows of the legend
    fig.legend(handles, engines, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, legend_h + 0.02, 1, 0.95 if title else 1.0))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _panel(
    ax: Any,
    index: dict[tuple, dict[str, Any]],
    models: list[str],
    engines: list[str],
    colors: dict[str, Any],
    nthr: int,
    batch: int,
    per_image: bool,
) -> None:
    """One (threads, batch) panel: bars for every (model, engine) that has a record."""
    most = max(sum((m, e, nthr, batch) in index for e in engines) for m in models)
    medians = [r["median_ms"] for (_m, _e, t, b), r in index.items() if (t, b) == (nthr, batch)]
    # a busy machine's outliers (max) must not squash the bars: whiskers are cut at 1.6x
    # the largest median, and the median label sits above the (cut) whisker
    top = 1.6 * max(medians, default=1.0) * (1.0 / batch if per_image else 1.0)
    width = 0.8 / max(most, 1)
    scale = 1.0 / batch if per_image else 1.0
    for mi, model in enumerate(models):
        present = [e for e in engines if (model, e, nthr, batch) in index]
        start = mi - width * (len(present) - 1) / 2
        for k, engine in enumerate(present):
            r = index[(model, engine, nthr, batch)]
            x = start + k * width
            med = r["median_ms"] * scale
            err = [[med - r["min_ms"] * scale], [r["max_ms"] * scale - med]]
            ax.bar(x, med, width * 0.92, color=colors[engine], yerr=err, capsize=2)
            ax.annotate(
                f"{med:.1f}",
                (x, min(r["max_ms"] * scale, top)),  # above the whisker: never overlap
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
            )
    ax.set_ylim(0, min(ax.get_ylim()[1], top) * 1.12)  # room for the labels above
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels(models)
    unit = "ms / image" if per_image else "ms / call"
    ax.set_ylabel(f"median {unit}")
    ax.set_title(f"{nthr} thread{'s' if nthr > 1 else ''}, batch {batch}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


#: Bar labels of :func:`plot_comparison`: (engine, model run or None for the bnnflow model).
COMPARISON_BARS: tuple[tuple[str, str, str | None], ...] = (
    ("bnnflow int8", "bnnflow-int8", None),
    ("bnnflow float", "bnnflow-float", None),
    ("LCE (larq-zoo twin)", "lce", "lce"),
    ("PyTorch fp32 (float twin)", "torch", "torch"),
    ("PyTorch fp32 ResNet-18", "torch", "resnet18"),
    ("ORT fp32 ResNet-18", "onnxruntime", "resnet18"),
    ("ORT int8 ResNet-18", "onnxruntime-int8", "resnet18"),
)


def comparison_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Regroup ``records`` under each bnnflow model: for every bnnflow model M, its own
    records and copies of its peer counterparts' (``PEER_COUNTERPARTS``), the copies renamed
    ``model=M`` and ``engine=`` the bar label of :data:`COMPARISON_BARS`."""
    from bnnflow.bench.models import PEER_COUNTERPARTS

    index = {(r["engine"], r["model"], r["threads"], r["batch"]): r for r in records}
    models = _ordered([r["model"] for r in records if r["engine"].startswith("bnnflow")])
    out = []
    for model in models:
        counterparts = PEER_COUNTERPARTS.get(model, {})
        for label, engine, which in COMPARISON_BARS:
            if which is None:
                run_model = model
            elif which == "resnet18":
                run_model = "resnet18" if engine in counterparts or engine == "torch" else None
            else:
                run_model = counterparts.get(which)
                if engine == "torch" and run_model == "resnet18":
                    run_model = None  # shown as the ResNet-18 bar already
            if run_model is None:
                continue
            for (e, m, _threads, _batch), r in index.items():
                if e == engine and m == run_model:
                    out.append({**r, "model": model, "engine": label})
    return out


def plot_comparison(records: Sequence[dict[str, Any]], path: str | os.PathLike[str], *,
                    title: str | None = None) -> Path:
    """:func:`plot_results` of :func:`comparison_records` in ms per image: one group of bars
    per bnnflow model, its peers beside it."""
    return plot_results(comparison_records(records), path, title=title, per_image=True)
