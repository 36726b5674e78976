"""Training curves: train loss and test accuracy per epoch, one line per run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class PlotError(ValueError):
    """A run directory without readable metrics."""


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl`` (one JSON object per line), by epoch."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise PlotError(f"{str(run_dir)!r} has no metrics.jsonl (is it a training --out dir?)")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise PlotError(f"{path}:{number}: not JSON: {err}") from err
    if not records:
        raise PlotError(f"{path} is empty: no epoch finished yet")
    return sorted(records, key=lambda r: r["epoch"])


def run_label(run_dir: Path) -> str:
    """Legend text: the directory name, plus model and stage from config.json when present."""
    config_path = run_dir / "config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text())
        return f"{run_dir.name} ({config.get('model')}, stage {config.get('stage')})"
    return run_dir.name


def plot_runs(run_dirs: list[str | Path], out_png: str | Path) -> Path:
    """Draw train_loss and test_acc vs epoch for every run into ``out_png``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatter

    runs = [(Path(d), read_metrics(d)) for d in run_dirs]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run_dir, records in runs:
        epochs = [r["epoch"] for r in records]
        label = run_label(run_dir)
        ax_loss.plot(epochs, [r["train_loss"] for r in records], marker=".", label=label)
        ax_acc.plot(epochs, [100 * r["test_acc"] for r in records], marker=".", label=label)
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    ax_loss.set_yscale("log")
    # plain numbers; minor ticks labelled only when the range spans few decades
    ax_loss.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax_loss.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False,
                                                   minor_thresholds=(1, 0.5)))
    ax_acc.set(title="test accuracy", xlabel="epoch", ylabel="top-1 accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
