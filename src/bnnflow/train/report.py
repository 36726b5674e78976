"""Summaries of finished training runs: final test accuracy per run, mean ± std per group.

The figure of a run is the test accuracy of its **last** epoch (``metrics.jsonl``), not the
best one: picking the best epoch on the test split would select on the test set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunResult:
    """One finished run."""

    group: str
    seed: int
    epochs: int
    test_acc: float
    seconds: float
    calib_acc: float | None = None  # stage 2: accuracy right after calibration


def _records(run_dir: Path) -> list[dict]:
    lines = [x for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    if not lines:
        raise ValueError(f"{run_dir}/metrics.jsonl is empty")
    return [json.loads(x) for x in lines]


def read_run(group: str, seed: int, run_dir: str | Path) -> RunResult:
    """Read the final record of ``run_dir/metrics.jsonl`` (and calibration from config.json).

    A two-step run directory (``two_step.json``, ``step1/``, ``step2/``) is one run: its
    epochs are both steps', its accuracy step 2's last epoch, its time the sum of both.
    """
    run_dir = Path(run_dir)
    if (run_dir / "two_step.json").is_file() and not (run_dir / "metrics.jsonl").is_file():
        first, second = _records(run_dir / "step1"), _records(run_dir / "step2")
        return RunResult(group=group, seed=seed,
                         epochs=first[-1]["epoch"] + second[-1]["epoch"],
                         test_acc=second[-1]["test_acc"],
                         seconds=sum(r["seconds"] for r in first + second))
    records = _records(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    calibration = config.get("calibration") or {}
    return RunResult(
        group=group,
        seed=seed,
        epochs=records[-1]["epoch"],
        test_acc=records[-1]["test_acc"],
        seconds=sum(r["seconds"] for r in records),
        calib_acc=calibration.get("test_acc"),
    )


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof = 1``; 0 for a single value)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_std of no values")
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def pct(mean: float, std: float) -> str:
    """``98.61 ± 0.32`` (percent)."""
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def markdown_table(results: list[RunResult], descriptions: dict[str, str]) -> str:
    """One row per group (in ``descriptions`` order): mean ± std, per-seed values, time."""
    header = ("| model | what | epochs | test accuracy % (mean ± std) | per seed | "
              "train time per run (s) |\n|---|---|---|---|---|---|\n")
    rows = []
    for group, what in descriptions.items():
        mine = sorted((r for r in results if r.group == group), key=lambda r: r.seed)
        if not mine:
            continue
        mean, std = mean_std([r.test_acc for r in mine])
        seeds = ", ".join(f"s{r.seed}: {100 * r.test_acc:.2f}" for r in mine)
        secs = sum(r.seconds for r in mine) / len(mine)
        epochs = "/".join(sorted({str(r.epochs) for r in mine}))
        rows.append(f"| {group} | {what} | {epochs} | {pct(mean, std)} | {seeds} | "
                    f"{secs:.0f} |")
    return header + "\n".join(rows) + "\n"
