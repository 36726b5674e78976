"""Timing helpers shared by the peer drivers (stdlib only: each driver runs in its own venv).

Every driver builds a list of :class:`Case` (one engine x model x threads x batch, each with a
ready-to-call ``run()``), then :func:`measure` warms every case up and times them
**interleaved**: repetition r runs case 0, 1, ..., n-1 once each (the starting case rotates
with r), so slow drifts of a shared machine (other processes, frequency) spread over all
engines alike instead of biasing whichever ran last. A result record is::

    {"model", "engine", "threads", "batch", "median_ms", "min_ms", "max_ms", "runs", ...}

plus driver-specific extras (``setting``, ``model_bytes``, ``load_before``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

LOAD_WARN = 0.5


@dataclass
class Case:
    """One timed configuration. ``run`` performs one full inference of ``batch`` images."""

    model: str
    engine: str
    threads: int
    batch: int
    run: Callable[[], Any]
    prepare: Callable[[], Any] | None = None  # untimed, before every run (e.g. set threads)
    extra: dict[str, Any] = field(default_factory=dict)


def int_list(text: str) -> list[int]:
    """Parse ``"1,2"`` into ``[1, 2]``; every entry must be a positive integer."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def common_args(parser: argparse.ArgumentParser, models: Sequence[str]) -> None:
    """Add the options every driver shares (threads, batch, runs, warm-up, load, output)."""
    parser.add_argument("--threads", type=int_list, default=[1, 2], help="e.g. 1,2")
    parser.add_argument("--batch", type=int_list, default=[1, 8], help="e.g. 1,8")
    parser.add_argument("--models", default=",".join(models), help=f"subset of {list(models)}")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs per case first")
    parser.add_argument("--burst", type=int, default=1,
                        help="back-to-back calls per case and round; the first is reported "
                        "apart (first_median_ms), the others give median/min/max")
    parser.add_argument("--json", default=None, help="write the result list here")
    parser.add_argument(
        "--max-load",
        type=float,
        default=None,
        help=f"refuse to run when the 1-minute load average exceeds this "
        f"(default: only warn above {LOAD_WARN})",
    )


def pick_models(text: str, known: Sequence[str]) -> list[str]:
    """Split ``--models`` and reject names this driver does not know."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in known]
    if unknown or not names:
        raise SystemExit(f"--models: unknown {unknown or names}; choose from {list(known)}")
    return names


def load_average() -> float:
    """The 1-minute load average (``/proc/loadavg``, else ``os.getloadavg``)."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return os.getloadavg()[0]


def uptime_line() -> str:
    """The output of ``uptime`` (or the load averages when ``uptime`` is missing)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def check_load(max_load: float | None) -> float:
    """Warn on stderr above :data:`LOAD_WARN`; exit when above ``max_load`` (if given)."""
    load = load_average()
    if max_load is not None and load > max_load:
        raise SystemExit(
            f"load average {load:.2f} > --max-load {max_load}: the machine is busy, "
            f"timings would be meaningless ({uptime_line()})"
        )
    if load > LOAD_WARN:
        log(f"WARNING: load average {load:.2f} > {LOAD_WARN}; timings are not clean")
    return load


def log(msg: str) -> None:
    """Progress output goes to stderr so stdout stays the JSON result."""
    print(msg, file=sys.stderr, flush=True)


def summarize(times_s: Sequence[float]) -> dict[str, float]:
    """median / min / max of a list of seconds, in milliseconds."""
    ms = [t * 1e3 for t in times_s]
    return {
        "median_ms": round(statistics.median(ms), 4),
        "min_ms": round(min(ms), 4),
        "max_ms": round(max(ms), 4),
        "runs": len(ms),
    }


def measure(cases: Sequence[Case], runs: int, warmup: int, burst: int = 1) -> list[dict[str, Any]]:
    """Warm up every case, then time them interleaved, ``burst`` back-to-back calls per case
    and round; return one record per case. With ``burst > 1`` median / min / max are over the
    calls 2..burst of every burst and ``first_median_ms`` is the median of the first calls
    (the same method as ``bnnflow.bench.timing.measure_interleaved``)."""
    if runs < 1 or burst < 1:
        raise SystemExit(f"--runs and --burst must be >= 1, got {runs}, {burst}")
    for case in cases:
        log(f"warm-up {case.engine} {case.model} t={case.threads} b={case.batch}")
        for _ in range(max(warmup, 1)):
            if case.prepare is not None:
                case.prepare()
            case.run()
    first: list[list[float]] = [[] for _ in cases]
    steady: list[list[float]] = [[] for _ in cases]
    n = len(cases)
    for r in range(runs):
        for j in range(n):
            i = (r + j) % n
            if cases[i].prepare is not None:
                cases[i].prepare()
            for k in range(burst):
                t0 = time.perf_counter()
                cases[i].run()
                (first if k == 0 else steady)[i].append(time.perf_counter() - t0)
    records = []
    for case, f, s in zip(cases, first, steady, strict=True):
        rec = {
            "model": case.model,
            "engine": case.engine,
            "threads": case.threads,
            "batch": case.batch,
            **(summarize(f) if burst == 1 else summarize(s)),
            "burst": burst,
        }
        if burst > 1:
            rec["first_median_ms"] = round(statistics.median(f) * 1e3, 4)
        rec.update(case.extra)
        records.append(rec)
    return records


def add_best(records: list[dict[str, Any]], prefix: str, engine: str) -> list[dict[str, Any]]:
    """Append, per (model, threads, batch), the fastest record (by median) among engines that
    start with ``prefix``, renamed to ``engine``; its original engine goes to ``variant``."""
    best: dict[tuple, dict[str, Any]] = {}
    for rec in records:
        if not rec["engine"].startswith(prefix):
            continue
        key = (rec["model"], rec["threads"], rec["batch"])
        if key not in best or rec["median_ms"] < best[key]["median_ms"]:
            best[key] = rec
    return list(records) + [{**r, "engine": engine, "variant": r["engine"]} for r in best.values()]


def host_info() -> dict[str, str]:
    """CPU model name, machine and Python version, for the record."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "machine": platform.machine(), "python": platform.python_version()}


def finish(records: list[dict[str, Any]], json_path: str | None, load_before: float) -> None:
    """Attach load/host info, print a table to stderr and the JSON list to stdout/``json_path``."""
    load_after = load_average()
    host = host_info()
    log(f"uptime after: {uptime_line()}")
    for rec in records:
        rec["load_before"] = load_before
        rec["load_after"] = load_after
        rec["cpu"] = host["cpu"]
    log(f"{'engine':28s} {'model':12s} {'thr':>3s} {'batch':>5s} {'median':>9s} {'min':>9s}")
    for rec in records:
        log(
            f"{rec['engine']:28s} {rec['model']:12s} {rec['threads']:3d} {rec['batch']:5d} "
            f"{rec['median_ms']:9.2f} {rec['min_ms']:9.2f}"
        )
    text = json.dumps(records, indent=1)
    if json_path:
        with open(json_path, "w") as f:
            f.write(text + "\n")
    print(text)
