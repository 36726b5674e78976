"""Markdown tables of ``bnnflow bench`` records: latency, speed-ups, lower bound, goals, memory.

Input: the record list ``bnnflow bench --json`` writes (bnnflow's records and the peers',
see :mod:`bnnflow.bench.peers`). bnnflow records carry ``dataflow``, ``lower_bound_ms`` and
the MAC counts; a record of any engine may carry ``peak_rss_bytes`` and ``model_bytes``.
Which peer record a bnnflow model is compared with: :data:`bnnflow.bench.models.PEER_COUNTERPARTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bnnflow.bench.models import PEER_COUNTERPARTS, PUBLISHED_TOP1

INT8, FLOAT = "bnnflow-int8", "bnnflow-float"


def _index(recs: Sequence[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    return {(r["engine"], r["model"], r["threads"], r["batch"]): r for r in recs}


def _top1(engine: str, model: str) -> str:
    key = "resnet18-int8" if engine == "onnxruntime-int8" else model
    if engine == "torch" and key.endswith("-float"):
        return "— (float twin, untrained)"
    acc = PUBLISHED_TOP1.get(key)
    if acc is None:
        return "?"
    return "not published" if acc.top1 is None else f"{acc.top1:.1f} %"


def bnnflow_models(recs: Sequence[dict[str, Any]]) -> list[str]:
    """bnnflow models present in ``recs``, in order of appearance."""
    return list(dict.fromkeys(r["model"] for r in recs if r["engine"].startswith("bnnflow")))


def _first_call(rec: dict[str, Any]) -> str:
    """The median of the bursts' first calls, or "—" for single-call rounds."""
    first = rec.get("first_median_ms")
    return "—" if first is None else f"{first:.2f}"


def latency_table(recs: Sequence[dict[str, Any]]) -> str:
    """Per bnnflow model: its engines and its peer counterparts, every threads x batch."""
    idx = _index(recs)
    lines = ["| model | engine (model run) | threads | batch | median ms | min ms | max ms "
             "| first call ms | ms / image | published top-1 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    configs = sorted({(r["threads"], r["batch"]) for r in recs}, key=lambda tb: (tb[1], tb[0]))
    for model in bnnflow_models(recs):
        engines = [(e, model) for e in (INT8, FLOAT)]
        engines += list(PEER_COUNTERPARTS.get(model, {}).items())
        for threads, batch in configs:
            for engine, run_model in engines:
                r = idx.get((engine, run_model, threads, batch))
                if r is None:
                    continue
                shown = engine if run_model == model else f"{engine} ({run_model})"
                lines.append(
                    f"| {model} | {shown} | {threads} | {batch} | {r['median_ms']:.2f} "
                    f"| {r['min_ms']:.2f} | {r['max_ms']:.2f} | {_first_call(r)} "
                    f"| {r['median_ms'] / batch:.2f} "
                    f"| {_top1(engine, run_model)} |")
    return "\n".join(lines)


def speedup_table(recs: Sequence[dict[str, Any]]) -> str:
    """``peer median / bnnflow-int8 median`` for every counterpart, plus int8 vs float and
    2 vs 1 threads, per model, threads and batch."""
    idx = _index(recs)
    lines = ["| model | threads | batch | vs " + " | vs ".join(
        ["lce", "torch (float twin)", "torch resnet18", "onnxruntime", "onnxruntime-int8",
         "bnnflow-float"]) + " |", "|---|---:|---:|" + "---:|" * 6]
    configs = sorted({(r["threads"], r["batch"]) for r in recs}, key=lambda tb: (tb[1], tb[0]))
    for model in bnnflow_models(recs):
        cp = PEER_COUNTERPARTS.get(model, {})
        for threads, batch in configs:
            me = idx.get((INT8, model, threads, batch))
            if me is None:
                continue
            others = [("lce", cp.get("lce")), ("torch", cp.get("torch")), ("torch", "resnet18"),
                      ("onnxruntime", "resnet18"), ("onnxruntime-int8", "resnet18"),
                      (FLOAT, model)]
            if cp.get("torch") == "resnet18":
                others[1] = ("torch", None)
            cells = []
            for engine, run_model in others:
                r = idx.get((engine, run_model, threads, batch)) if run_model else None
                cells.append("—" if r is None else f"{r['median_ms'] / me['median_ms']:.2f}x")
            lines.append(f"| {model} | {threads} | {batch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lower_bound_table(recs: Sequence[dict[str, Any]]) -> str:
    """bnnflow records against their compute lower bound (``median / lower bound``)."""
    lines = ["| model | engine | threads | batch | binary GMAC / image | int8 GMAC / image "
             "| float GMAC / image | lower bound ms | median ms | median / bound |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in recs:
        if not r["engine"].startswith("bnnflow") or "lower_bound_ms" not in r:
            continue
        lb = r["lower_bound_ms"]
        lines.append(
            f"| {r['model']} | {r['engine']} | {r['threads']} | {r['batch']} "
            f"| {r['binary_macs'] / 1e9:.3f} | {r['int8_macs'] / 1e9:.3f} "
            f"| {r['float_macs'] / 1e9:.3f} | {lb:.2f} | {r['median_ms']:.2f} "
            f"| {r['median_ms'] / lb:.2f} |")
    return "\n".join(lines)


def memory_table(recs: Sequence[dict[str, Any]]) -> str:
    """Model file size and peak RSS (a fresh process loading the model and running it once)."""
    lines = ["| engine | model | model file MB | peak RSS MB | RSS before import MB |",
             "|---|---|---:|---:|---:|"]
    seen = set()
    for r in recs:
        if "peak_rss_bytes" not in r or (r["engine"], r["model"]) in seen:
            continue
        seen.add((r["engine"], r["model"]))
        base = r.get("baseline_rss_bytes")
        lines.append(f"| {r['engine']} | {r['model']} | {r.get('model_bytes', 0) / 1e6:.2f} "
                     f"| {r['peak_rss_bytes'] / 1e6:.1f} "
                     f"| {'' if base is None else f'{base / 1e6:.1f}'} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Goal:
    """One goal: ``measured >= target`` (or ``<=`` when ``at_most``)."""

    model: str
    what: str
    target: float
    measured: float | None
    at_most: bool = False

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured <= self.target if self.at_most else self.measured >= self.target


def goals(recs: Sequence[dict[str, Any]], batch: int = 1) -> list[Goal]:
    """The issue's goals at 1 thread and ``batch`` (2 threads for the scaling goal)."""
    idx = _index(recs)
    out = []
    for model in bnnflow_models(recs):
        cp = PEER_COUNTERPARTS.get(model, {})
        me = idx.get((INT8, model, 1, batch))
        if me is None:
            continue

        def ratio(engine: str, run_model: str | None, me: dict[str, Any] = me) -> float | None:
            r = idx.get((engine, run_model, 1, batch)) if run_model else None
            return None if r is None else r["median_ms"] / me["median_ms"]

        if "lce" in cp:
            out.append(Goal(model, "int8 speed-up vs LCE", 8.0, ratio("lce", cp["lce"])))
        twin = cp.get("torch")
        if twin:
            out.append(Goal(model, f"int8 speed-up vs PyTorch fp32 ({twin})", 15.0,
                            ratio("torch", twin)))
        if "onnxruntime-int8" in cp:
            out.append(Goal(model, "int8 speed-up vs ORT int8 ResNet-18", 3.0,
                            ratio("onnxruntime-int8", "resnet18")))
        lb = me.get("lower_bound_ms")
        out.append(Goal(model, "int8 median / lower bound", 1.5,
                        None if not lb else me["median_ms"] / lb, at_most=True))
        two = idx.get((INT8, model, 2, batch))
        out.append(Goal(model, "int8 2 threads speed-up over 1", 1.8,
                        None if two is None else me["median_ms"] / two["median_ms"]))
        out.append(Goal(model, "int8 speed-up vs float data-flow", 1.3, ratio(FLOAT, model)))
    return out


def goals_table(recs: Sequence[dict[str, Any]], batch: int = 1) -> str:
    """:func:`goals` as a Markdown table."""
    lines = [f"| model | goal (1 thread, batch {batch}) | target | measured | met |",
             "|---|---|---:|---:|---|"]
    for g in goals(recs, batch):
        target = f"≤ {g.target:g}" if g.at_most else f"≥ {g.target:g}"
        measured = "—" if g.measured is None else f"{g.measured:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[g.met]
        lines.append(f"| {g.model} | {g.what} | {target} | {measured} | {met} |")
    return "\n".join(lines)


def machine_lines(recs: Sequence[dict[str, Any]]) -> str:
    """CPU, ISA, ceilings and load averages recorded in ``recs``."""
    cpus = sorted({r.get("cpu", "?") for r in recs})
    loads = [v for r in recs for v in (r.get("load_before"), r.get("load_after"))
             if isinstance(v, (int, float))]
    lines = [f"- CPU: {', '.join(cpus)}"]
    ceil = next((r["ceilings"] for r in recs if "ceilings" in r), None)
    if ceil:
        lines.append(f"- ceilings (one core, this run): xor+popcount "
                     f"{ceil['binary_gmacs_per_core']:.1f} G binary MAC/s "
                     f"({ceil['binary_method']}), int8 "
                     f"{ceil['int8_gmacs_per_core']:.1f} G MAC/s ({ceil['int8_isa']})")
    if loads:
        lines.append(f"- load average during the runs: {min(loads):.2f} – {max(loads):.2f}"
                     + (" (**not a quiet machine**)" if max(loads) > 0.5 else ""))
    return "\n".join(lines)


def markdown_report(recs: Sequence[dict[str, Any]]) -> str:
    """Every table with a heading, for docs/benchmarks.md."""
    parts = ["### Machine and run", machine_lines(recs),
             "### Latency (ms per call of `batch` images)", latency_table(recs),
             "### Speed-up of bnnflow int8 (peer median / bnnflow-int8 median)",
             speedup_table(recs),
             "### Against the lower bound", lower_bound_table(recs),
             "### Goals", goals_table(recs)]
    mem = memory_table(recs)
    if mem.count("\n") > 1:
        parts += ["### Model size and peak memory (1 thread, batch 1)", mem]
    return "\n\n".join(parts) + "\n"
