"""Timing bnnflow's own engines: interleaved runs, per-op profile, lower bound, peak memory.

Method (the same as the peer drivers', ``benchmarks/benchutil.py``): every case (model x
data-flow x threads x batch) is built once — one :class:`~bnnflow.runtime.Interpreter` per
thread count — and warmed up; then repetition ``r`` runs every case once, starting at case
``r mod n``, so a slow drift of the machine hits all engines alike. One call is
``Interpreter.run(x)`` on a batch (input check and logits copy included). A case runs
``burst`` calls back to back per round: the first follows other engines' work (cold caches,
pool workers asleep), the others are the steady state of a serving loop. Reported: median, min
and max milliseconds per call over the steady calls (``runs · (burst − 1)``; with ``burst = 1``
over the ``runs`` single calls), and ``first_median_ms``, the median of the bursts' first calls.

**Lower bound** of one call (``batch`` images, ``threads`` cores)::

    t_lb = batch · (B / (C_bin · threads) + I / (C_i8 · threads))

``B``, ``I``: binary and int8 MACs per image (``Interpreter.summary()`` totals); ``C_bin``: one
core's xor + popcount + accumulate ceiling (best method of ``_engine.xor_popcount_ceiling``,
binary MACs/s); ``C_i8``: one core's int8 multiply-accumulate peak
(``_engine.int8_mac_peak``: ``vpmaddwd`` on AVX2). Both ceilings are measured in the same run.
Float MACs (the float data-flow's stem) and memory-bound glue ops are not in the bound, so
it is a bound on compute, never reachable exactly.

No torch here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LOAD_WARN = 0.5


def log(msg: str) -> None:
    """Progress and warnings go to stderr."""
    print(msg, file=sys.stderr, flush=True)


def load_average() -> float:
    """The 1-minute load average."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return os.getloadavg()[0]


def check_quiet(max_load: float | None = None) -> float:
    """The load average now; a loud warning above :data:`LOAD_WARN`, ``RuntimeError`` above
    ``max_load`` (when given)."""
    load = load_average()
    if max_load is not None and load > max_load:
        raise RuntimeError(
            f"load average {load:.2f} > max_load {max_load}: the machine is busy, timings "
            f"would be meaningless"
        )
    if load > LOAD_WARN:
        bar = "!" * 72
        log(f"{bar}\nWARNING: load average {load:.2f} > {LOAD_WARN}: the machine is NOT quiet; "
            f"these timings are not clean (recorded as load_before/load_after)\n{bar}")
    return load


@dataclass
class Case:
    """One timed configuration; ``run()`` is one inference of ``batch`` images."""

    model: str
    engine: str
    threads: int
    batch: int
    run: Callable[[], Any]
    extra: dict[str, Any] = field(default_factory=dict)


def summarize(times_s: Sequence[float]) -> dict[str, float | int]:
    """Median, min and max of ``times_s`` (seconds) in milliseconds, and the count."""
    if not times_s:
        raise ValueError("summarize: no times")
    ms = [t * 1e3 for t in times_s]
    return {"median_ms": round(statistics.median(ms), 4), "min_ms": round(min(ms), 4),
            "max_ms": round(max(ms), 4), "runs": len(ms)}


def measure_interleaved(cases: Sequence[Case], runs: int, warmup: int,
                        burst: int = 1) -> list[dict[str, Any]]:
    """Warm every case up (``warmup`` calls, at least one), then time ``runs`` interleaved
    rounds; one record per case (see the module docstring).

    Each round runs a case ``burst`` times back to back. With ``burst == 1`` every timed call
    follows the other cases' calls (caches cold, pool workers asleep); with ``burst > 1`` the
    record's median / min / max are over the calls 2..burst of every burst (the steady state
    of a serving loop) and ``first_median_ms`` is the median of the bursts' first calls."""
    if runs < 1 or warmup < 0 or burst < 1:
        raise ValueError(f"runs and burst must be >= 1 and warmup >= 0, got runs={runs} "
                         f"warmup={warmup} burst={burst}")
    for case in cases:
        for _ in range(max(warmup, 1)):
            case.run()
    first: list[list[float]] = [[] for _ in cases]
    steady: list[list[float]] = [[] for _ in cases]
    n = len(cases)
    for r in range(runs):
        for j in range(n):
            i = (r + j) % n
            for k in range(burst):
                t0 = time.perf_counter()
                cases[i].run()
                (first if k == 0 else steady)[i].append(time.perf_counter() - t0)
    return [
        {"model": c.model, "engine": c.engine, "threads": c.threads, "batch": c.batch,
         **burst_summary(f, s, burst), **c.extra}
        for c, f, s in zip(cases, first, steady, strict=True)
    ]


def burst_summary(first_s: Sequence[float], steady_s: Sequence[float],
                  burst: int) -> dict[str, Any]:
    """The record fields of :func:`measure_interleaved` from the first calls of the bursts and
    the others (seconds)."""
    if burst == 1:
        return {**summarize(first_s), "burst": 1}
    return {**summarize(steady_s), "burst": burst,
            "first_median_ms": round(statistics.median(first_s) * 1e3, 4)}


def input_batch(interp: Any, batch: int, seed: int = 0) -> np.ndarray:
    """A random batch for ``interp``'s input spec: pixel values 0..255 in its dtype."""
    spec = interp.input_spec
    rng = np.random.default_rng(seed)
    shape = (batch, *spec.shape[1:])
    return rng.integers(0, 256, shape).astype(np.dtype(spec.dtype))


# -- ceilings and the lower bound ----------------------------------------------------------


@dataclass(frozen=True)
class Ceilings:
    """One core's compute ceilings, measured in this run."""

    binary_macs_per_s: float
    binary_method: str
    int8_macs_per_s: float
    int8_isa: str

    def as_dict(self) -> dict[str, Any]:
        return {"binary_gmacs_per_core": self.binary_macs_per_s / 1e9,
                "binary_method": self.binary_method,
                "int8_gmacs_per_core": self.int8_macs_per_s / 1e9, "int8_isa": self.int8_isa}


def measure_ceilings() -> Ceilings:
    """The xor + popcount ceiling (best method of the active ISA, the one the engine's kernels
    run: ``BNNFLOW_ISA=avx2`` on an AVX-512 CPU gives the AVX2 ceiling, as on an AVX2 CPU) and
    the int8 MAC peak of the active ISA (``bnnflow.bench.glue.mac_peak``; the scalar ISA has
    none, then the best SIMD one)."""
    from bnnflow import cpu
    from bnnflow.bench.glue import mac_peak
    from bnnflow.bench.kernels import measure_ceiling

    gbmacs, method, _ = measure_ceiling([cpu.active_isa()])
    isas = [cpu.active_isa()] + [i for i in cpu.supported_isas() if i != cpu.active_isa()]
    for isa in isas:
        peak = mac_peak(isa)
        if peak is not None:
            return Ceilings(gbmacs * 1e9, method, peak, isa)
    raise RuntimeError("no SIMD ISA with an int8 MAC peak on this CPU")


def best_ceilings(runs: Sequence[Ceilings]) -> Ceilings:
    """The highest binary and int8 rates among several measurements of the ceilings.

    A ceiling is a best rate: on a shared VM one measurement can come out low (another
    process, a frequency step), never high, so the best of the measurements taken before and
    after the timing is the better estimate and the less flattering bound."""
    if not runs:
        raise ValueError("best_ceilings: no measurements")
    binary = max(runs, key=lambda c: c.binary_macs_per_s)
    int8 = max(runs, key=lambda c: c.int8_macs_per_s)
    return Ceilings(binary.binary_macs_per_s, binary.binary_method, int8.int8_macs_per_s,
                    int8.int8_isa)


def lower_bound_ms(binary_macs: int, int8_macs: int, batch: int, threads: int,
                   ceilings: Ceilings) -> float:
    """``batch · (B / (C_bin·threads) + I / (C_i8·threads))`` in milliseconds (module
    docstring). ``ValueError`` for negative MACs or non-positive batch, threads, ceilings."""
    if binary_macs < 0 or int8_macs < 0:
        raise ValueError(f"MAC counts must be >= 0, got {binary_macs}, {int8_macs}")
    if batch < 1 or threads < 1:
        raise ValueError(f"batch and threads must be >= 1, got {batch}, {threads}")
    if ceilings.binary_macs_per_s <= 0 or ceilings.int8_macs_per_s <= 0:
        raise ValueError(f"ceilings must be > 0, got {ceilings}")
    seconds = batch * (binary_macs / (ceilings.binary_macs_per_s * threads)
                       + int8_macs / (ceilings.int8_macs_per_s * threads))
    return seconds * 1e3


def model_costs(interp: Any) -> dict[str, int]:
    """Per-image MAC totals and parameter bytes from ``interp.summary()``."""
    t = interp.summary().totals
    return {k: int(t[k]) for k in ("binary_macs", "int8_macs", "float_macs", "param_bytes")}


# -- per-op profile ------------------------------------------------------------------------


def profile_ops(interp: Any, x: np.ndarray, repeats: int = 10) -> list[dict[str, Any]]:
    """Median milliseconds of every op of ``interp`` run on its own (``Interpreter.run_op``
    on the activations of one ``run_all(x)``), in graph order, with its MACs and backend."""
    acts = dict(interp.run_all(x))
    acts[interp.input_spec.name] = x
    rows = {r.name: r for r in interp.summary().rows}
    out = []
    for op in interp.graph.ops:
        inputs = [acts[t] for t in op.inputs]
        interp.run_op(op.name, inputs)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            interp.run_op(op.name, inputs)
            ts.append(time.perf_counter() - t0)
        r = rows[op.name]
        out.append({"name": op.name, "type": op.type, "median_ms": statistics.median(ts) * 1e3,
                    "binary_macs": r.binary_macs * x.shape[0],
                    "int8_macs": r.int8_macs * x.shape[0],
                    "float_macs": r.float_macs * x.shape[0], "backend": r.backend})
    return out


def profile_steps(interp: Any, x: np.ndarray, repeats: int = 10) -> list[dict[str, Any]]:
    """Median milliseconds of every step of the program ``interp.run`` executes (fused steps
    by their ops' names joined with ``+``, docs/runtime.md), timed natively by
    ``Interpreter.profile`` over ``repeats`` runs of ``x`` after one untimed run."""
    interp.profile(x)
    runs = [interp.profile(x) for _ in range(repeats)]
    return [{"name": name, "type": kind,
             "median_ms": statistics.median(run[i][2] for run in runs) * 1e3}
            for i, (name, kind, _) in enumerate(runs[0])]


def format_steps(title: str, rows: Sequence[dict[str, Any]], whole_ms: float | None) -> str:
    """A text table of :func:`profile_steps` rows: time and share of every step, full names
    (the type column as wide as the longest type: a band chain's runs to seven op types)."""
    total = sum(r["median_ms"] for r in rows) or 1e-9
    width = max([28, *(len(r["type"]) for r in rows)])
    lines = [title, f"{'#':>3} {'type':<{width}} {'ms':>8} {'%':>5}  name"]
    for i, r in enumerate(rows):
        lines.append(f"{i:>3} {r['type']:<{width}} {r['median_ms']:8.3f} "
                     f"{100 * r['median_ms'] / total:5.1f}  {r['name']}")
    tail = f"sum of steps {total:.2f} ms"
    if whole_ms is not None:
        tail += f"; whole run (median) {whole_ms:.2f} ms"
    lines.append(tail)
    return "\n".join(lines)


def format_profile(title: str, rows: Sequence[dict[str, Any]], whole_ms: float | None,
                   ceilings: Ceilings | None, threads: int) -> str:
    """A text table of :func:`profile_ops` rows: time, share, G MAC/s and, for binary ops,
    the fraction of the xor + popcount ceiling (x ``threads``); totals by op type."""
    total = sum(r["median_ms"] for r in rows) or 1e-9
    lines = [title, f"{'#':>3} {'type':<20} {'name':<34} {'ms':>8} {'%':>5} {'GMAC/s':>8} "
                    f"{'ceil':>5} backend"]
    for i, r in enumerate(rows):
        macs = r["binary_macs"] + r["int8_macs"] + r["float_macs"]
        rate = macs / (r["median_ms"] * 1e6) if macs and r["median_ms"] > 0 else 0.0
        frac = ""
        if r["binary_macs"] and ceilings is not None:
            rate_bin = r["binary_macs"] / (r["median_ms"] * 1e-3)
            frac = f"{rate_bin / (ceilings.binary_macs_per_s * threads):.2f}"
        lines.append(f"{i:>3} {r['type']:<20} {r['name'][:34]:<34} {r['median_ms']:8.3f} "
                     f"{100 * r['median_ms'] / total:5.1f} {rate:8.1f} {frac:>5} "
                     f"{r.get('backend', '')}")
    by_type: dict[str, float] = {}
    for r in rows:
        by_type[r["type"]] = by_type.get(r["type"], 0.0) + r["median_ms"]
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1])
    lines.append("by type: " + ", ".join(f"{k} {v:.2f} ms ({100 * v / total:.0f} %)"
                                         for k, v in ranked))
    tail = f"sum of ops {total:.2f} ms"
    if whole_ms is not None:
        tail += f"; whole run (median) {whole_ms:.2f} ms"
    lines.append(tail)
    return "\n".join(lines)


# -- peak resident memory ------------------------------------------------------------------


def memory_probe(python: str | os.PathLike[str], script: str | os.PathLike[str], engine: str,
                 model_file: str | os.PathLike[str], *, threads: int = 1, batch: int = 1,
                 env: dict[str, str] | None = None, timeout: float = 300) -> dict[str, Any]:
    """Run ``python script --engine ENGINE --file F --threads T --batch B`` (a fresh process
    that loads the model and runs it once) and return its JSON line: ``peak_rss_bytes``
    (``ru_maxrss``), ``model_bytes``, ... ``RuntimeError`` with its stderr when it fails."""
    cmd = [str(python), str(script), "--engine", engine, "--file", str(model_file),
           "--threads", str(threads), "--batch", str(batch)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"memory probe printed no JSON ({' '.join(cmd)})")
    return json.loads(lines[-1])


def file_bytes(path: str | os.PathLike[str]) -> int:
    """Size of ``path`` in bytes."""
    return Path(path).stat().st_size
