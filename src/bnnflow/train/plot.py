"""Training curves: train loss and test accuracy per epoch, one line per run directory.

A run that started from a checkpoint of another run given to the same plot (a stage-2 run
whose ``config.json`` says ``init: runs/s1/last.pt`` plotted with ``runs/s1``) continues that
run's epoch axis: its epoch ``e`` is drawn at ``e + E`` where ``E`` is the epoch the
checkpoint holds (the last epoch of the metrics for ``last.pt`` and other names, the first
epoch with the highest test accuracy for ``best.pt``), and a dashed vertical line marks the
boundary. Without a usable ``init`` (no ``config.json``, or a path relative to another working
directory), a stage-2 run given right after a stage-1 run continues that run. Unrelated runs
share the axis from epoch 1 as before.

A two-step run directory (``bnnflow train --two-step``: ``OUT/two_step.json``, ``OUT/step1``,
``OUT/step2``) stands for its steps: step 2 continues step 1's axis (its ``init`` is
``OUT/step1/last.pt``; found through the plan when the path was relative to another working
directory), with the boundary marked, and the legend says ``OUT/step1``, ``real weights``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TWO_STEP_PLAN = "two_step.json"  # bnnflow.train.twostep.PLAN


class PlotError(ValueError):
    """A run directory without readable metrics."""


@dataclass(frozen=True)
class PlotRun:
    """One run directory: its metrics, config.json (``{}`` if absent) and epoch offset."""

    path: Path
    records: list[dict[str, Any]]
    config: dict[str, Any]
    offset: int = 0  # added to every epoch: the epoch the run started from
    parent: int | None = None  # index of the run it continues
    start: str | None = None  # the checkpoint it continues, for the boundary label

    @property
    def stage(self) -> int | None:
        return self.config.get("stage", self.records[0].get("stage"))


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl`` (one JSON object per line), by epoch."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise PlotError(f"{str(run_dir)!r} has no metrics.jsonl (is it a training --out dir?)")
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                break  # a line cut off mid-write by an interrupt, as resume skips it
            raise PlotError(f"{path}:{number}: not JSON: {err}") from err
    if not records:
        raise PlotError(f"{path} is empty: no epoch finished yet")
    return sorted(records, key=lambda r: r["epoch"])


def read_config(run_dir: Path) -> dict[str, Any]:
    """``run_dir/config.json``, or ``{}`` when absent or unreadable."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return config if isinstance(config, dict) else {}


def run_label(run_dir: Path, after: str | None = None) -> str:
    """Legend text: the directory name, plus model and stage from config.json when present,
    plus ``after X`` for a run that continues run ``X``."""
    config = read_config(run_dir)
    parts = [f"{config.get('model')}, stage {config.get('stage')}"] if config else []
    if config.get("real_weights"):
        parts.append("real weights")
    if after:
        parts.append(f"after {after}")
    name = run_dir.name
    if (run_dir.parent / TWO_STEP_PLAN).is_file():  # OUT/step1, OUT/step2
        name = f"{run_dir.parent.name}/{name}"
    return f"{name} ({', '.join(parts)})" if parts else name


def checkpoint_epoch(records: list[dict[str, Any]], checkpoint: str) -> int:
    """The epoch a checkpoint of a run with ``records`` holds: for ``best.pt`` the first epoch
    with the highest ``test_acc`` (the trainer replaces best.pt only on a strict
    improvement), else the last epoch."""
    if checkpoint == "best.pt":
        best = max(r["test_acc"] for r in records)
        return next(r["epoch"] for r in records if r["test_acc"] == best)
    return records[-1]["epoch"]


def _parent(runs: list[PlotRun], i: int) -> tuple[int, str] | None:
    """(index of the run ``runs[i]`` continues, checkpoint file name), or ``None``."""
    init = runs[i].config.get("init")
    if init:
        where = Path(init).resolve().parent
        for j, other in enumerate(runs):
            if j != i and other.path.resolve() == where:
                return j, Path(init).name
        step1 = _two_step_sibling(runs, i)
        if step1 is not None:
            return step1, Path(init).name
        if Path(init).is_file():  # a checkpoint of a run not in this plot
            return None
    if i > 0 and runs[i].stage == 2 and runs[i - 1].stage == 1:
        return i - 1, Path(init).name if init else "last.pt"
    return None


def _two_step_sibling(runs: list[PlotRun], i: int) -> int | None:
    """For ``OUT/step2`` of a two-step run: the index of ``OUT/step1`` in ``runs``."""
    path = runs[i].path
    if path.name != "step2" or not (path.parent / TWO_STEP_PLAN).is_file():
        return None
    step1 = (path.parent / "step1").resolve()
    return next((j for j, r in enumerate(runs) if r.path.resolve() == step1), None)


def link_runs(runs: list[PlotRun]) -> list[PlotRun]:
    """``runs`` with ``offset``, ``parent`` and ``start`` set for runs that continue another
    run of the list (see the module docstring); a cycle of ``init`` links is cut."""
    parents = [_parent(runs, i) for i in range(len(runs))]
    offsets: dict[int, int] = {}

    def offset(i: int, seen: frozenset[int]) -> int:
        if i in offsets:
            return offsets[i]
        link = parents[i]
        if link is None or link[0] in seen:
            value = 0
        else:
            j, name = link
            value = offset(j, seen | {i}) + checkpoint_epoch(runs[j].records, name)
        offsets[i] = value
        return value

    out = []
    for i, run in enumerate(runs):
        link, value = parents[i], offset(i, frozenset({i}))
        if link is None or value == 0:  # no parent, or the link was cut
            out.append(run)
            continue
        j, name = link
        out.append(PlotRun(run.path, run.records, run.config, value, j, f"{runs[j].path.name}/"
                           f"{name}"))
    return out


def expand_two_step(run_dirs: list[str | Path]) -> list[Path]:
    """``run_dirs`` with every two-step directory (a plan, no metrics of its own) replaced by
    its step directories that have metrics (step 2 may not have started yet)."""
    out: list[Path] = []
    for d in map(Path, run_dirs):
        if (d / TWO_STEP_PLAN).is_file() and not (d / "metrics.jsonl").is_file():
            steps = [d / s for s in ("step1", "step2") if (d / s / "metrics.jsonl").is_file()]
            if not steps:
                raise PlotError(f"{str(d)!r} is a two-step run whose step 1 has no metrics yet")
            out += steps
        else:
            out.append(d)
    return out


def load_runs(run_dirs: list[str | Path]) -> list[PlotRun]:
    """Read and link the runs of ``run_dirs`` (two-step directories: their steps)."""
    dirs = expand_two_step(run_dirs)
    runs = [PlotRun(d, read_metrics(d), read_config(d)) for d in dirs]
    return link_runs(runs)


def curves_figure(run_dirs: list[str | Path]) -> Any:
    """The matplotlib figure of :func:`plot_runs` (two panels: loss, accuracy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatter

    runs = load_runs(run_dirs)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run in runs:
        epochs = [r["epoch"] + run.offset for r in run.records]
        label = run_label(run.path, None if run.parent is None else runs[run.parent].path.name)
        (line,) = ax_loss.plot(epochs, [r["train_loss"] for r in run.records], marker=".",
                               label=label)
        ax_acc.plot(epochs, [100 * r["test_acc"] for r in run.records], marker=".",
                    label=label, color=line.get_color())
        if run.parent is not None:
            _mark_boundary((ax_loss, ax_acc), run, line.get_color())
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
    return fig


def _mark_boundary(axes: tuple[Any, ...], run: PlotRun, color: str) -> None:
    """A dashed vertical line where ``run`` starts, labelled with its start checkpoint."""
    x = run.offset + 0.5
    for ax in axes:
        ax.axvline(x, color=color, linestyle="--", linewidth=1, alpha=0.7)
    axes[0].annotate(f"{run.path.name} from {run.start}\n(epoch {run.offset})",
                     xy=(x, 0.98), xycoords=("data", "axes fraction"), xytext=(3, 0),
                     textcoords="offset points", fontsize="x-small", color=color,
                     ha="left", va="top")


def plot_runs(run_dirs: list[str | Path], out_png: str | Path) -> Path:
    """Draw train_loss and test_acc vs epoch for every run into ``out_png``; returns its path.

    A run that continues another run of the list (stage 2 after its stage 1) continues its
    epoch axis; see the module docstring.
    """
    import matplotlib.pyplot as plt

    fig = curves_figure(run_dirs)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
