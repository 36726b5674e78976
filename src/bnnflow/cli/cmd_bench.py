"""``bnnflow bench``: time bnnflow's engines (int8 and float data-flows) beside the peers.

    bnnflow bench birealnet18 quicknet [--threads 1,2] [--batch 1,8]
        [--peers lce,torch,onnxruntime,onnxruntime-int8 | all | none] [--runs N]
        [--json FILE] [--plot FILE] [--markdown FILE] [--profile] [--memory]

MODEL is a benchmark model name (random weights, 224x224; converted once into ``--workdir``)
or a ``.bnn`` file (timed in its own data-flow; peers have no counterpart for it). Method,
lower bound and memory probe: :mod:`bnnflow.bench.timing`; tables: :mod:`bnnflow.bench.report`;
docs/benchmarks.md. No torch at import time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PEER_NAMES = ("lce", "torch", "onnxruntime", "onnxruntime-int8")
DATAFLOWS = ("int8", "float")


def _int_list(text: str, name: str) -> list[int]:
    from bnnflow.cli.main import UsageError

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"{name}: expected comma-separated positive integers, got {text!r}"
        ) from None
    if not values or any(v < 1 for v in values):
        raise UsageError(f"{name}: expected comma-separated positive integers, got {text!r}")
    return list(dict.fromkeys(values))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("bench", help="time bnnflow's engines and the peer engines",
                              description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="birealnet18, quicknet, ftbnn18, or a .bnn file")
    p.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default 1)")
    p.add_argument("--dataflows", default="int8,float",
                   help="bnnflow data-flows for named models (default int8,float)")
    p.add_argument("--peers", default="none",
                   help="comma-separated subset of " + ",".join(PEER_NAMES)
                   + ", or 'all' / 'none' (default none)")
    p.add_argument("--runs", type=int, default=30, help="timed calls per case (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per case first")
    p.add_argument("--burst", type=int, default=10,
                   help="back-to-back calls per case and round (default 10): the first call of "
                   "each burst is reported apart ('first call'), the others give the median")
    p.add_argument("--json", default=None, help="write the result records here")
    p.add_argument("--plot", default=None, help="draw a PNG bar chart here")
    p.add_argument("--markdown", default=None, help="write the Markdown tables here")
    p.add_argument("--profile", action="store_true",
                   help="print bnnflow's time per op (each thread count, batch 1)")
    p.add_argument("--memory", action="store_true",
                   help="measure model size and peak RSS per engine (a process each)")
    p.add_argument("--workdir", default="out/bench-models",
                   help="where converted models (and peer model files) are kept")
    p.add_argument("--max-load", type=float, default=None,
                   help="refuse to run when the 1-minute load average is above this")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.set_defaults(func=run)
    return p


def _parse_models(names: list[str]) -> list[tuple[str, Path | None]]:
    """(model name, .bnn path or None) per MODEL argument; UsageError for unknown ones."""
    from bnnflow.bench.models import BENCH_MODELS
    from bnnflow.cli.main import UsageError

    out = []
    for name in names:
        if name.endswith(".bnn"):
            path = Path(name)
            if not path.is_file():
                raise UsageError(f"MODEL {name!r}: no such .bnn file")
            out.append((path.stem, path))
        elif name in BENCH_MODELS:
            out.append((name, None))
        else:
            raise UsageError(f"MODEL {name!r}: unknown; choose from {list(BENCH_MODELS)} or "
                             f"give a .bnn file")
    return out


def _parse_choice_list(text: str, choices: tuple[str, ...], name: str) -> list[str]:
    from bnnflow.cli.main import UsageError

    if text == "all":
        return list(choices)
    if text in ("none", ""):
        return []
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in choices]
    if bad or not values:
        raise UsageError(f"{name}: unknown {bad or values}; choose from {list(choices)}")
    return list(dict.fromkeys(values))


def _validate(args: argparse.Namespace) -> dict[str, Any]:
    from bnnflow.cli.main import UsageError

    opts = {
        "models": _parse_models(args.models),
        "threads": _int_list(args.threads, "--threads"),
        "batch": _int_list(args.batch, "--batch"),
        "peers": _parse_choice_list(args.peers, PEER_NAMES, "--peers"),
        "dataflows": _parse_choice_list(args.dataflows, DATAFLOWS, "--dataflows"),
    }
    if not opts["dataflows"]:
        raise UsageError("--dataflows: choose at least one of int8, float")
    if args.runs < 1 or args.warmup < 0 or args.burst < 1:
        raise UsageError(f"--runs and --burst must be >= 1 and --warmup >= 0, got {args.runs}, "
                         f"{args.burst}, {args.warmup}")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot {args.plot!r}: must end in .png")
    return opts


def run(args: argparse.Namespace) -> int:
    from bnnflow.bench import timing
    from bnnflow.cli.main import UsageError

    opts = _validate(args)
    try:
        load_before = timing.check_quiet(args.max_load)
    except RuntimeError as err:
        raise UsageError(str(err)) from None
    paths = _model_files(opts, args)
    before = timing.measure_ceilings()
    timing.log(f"ceilings: {before.as_dict()}")
    recs, interps = _time_bnnflow(paths, opts, args)
    recs += _run_peers(opts, args)
    load_after = timing.load_average()
    after = timing.measure_ceilings()
    ceilings = timing.best_ceilings([before, after])
    timing.log(f"ceilings again: {after.as_dict()}; the bound uses the best of both")
    _annotate(recs, load_before, load_after, ceilings, [before, after])
    if args.profile:
        _profile(interps, recs, ceilings, opts)
    if args.memory:
        _memory(recs, paths, args)
    _write_outputs(recs, args)
    return 0


def _model_files(opts: dict[str, Any], args: argparse.Namespace) -> dict[tuple[str, str], Path]:
    """(model, dataflow) -> .bnn path: given files as they are, named models converted."""
    from bnnflow.bench.models import prepare_bench_models
    from bnnflow.bench.timing import log
    from bnnflow.format import read

    paths: dict[tuple[str, str], Path] = {}
    named = [m for m, p in opts["models"] if p is None]
    for model, path in opts["models"]:
        if path is not None:
            paths[(model, read(path).graph.dataflow)] = path
    if named:
        paths.update(prepare_bench_models(named, opts["dataflows"], args.workdir, args.seed,
                                          log=log))
    return paths


def _time_bnnflow(paths: dict[tuple[str, str], Path], opts: dict[str, Any],
                  args: argparse.Namespace) -> tuple[list[dict], dict]:
    """Interleaved timing of every (model, dataflow, threads, batch) on the Interpreter."""
    from bnnflow import cpu
    from bnnflow.bench import timing
    from bnnflow.bench.models import DATAFLOW_ENGINES
    from bnnflow.runtime import Interpreter

    cases, interps = [], {}
    for (model, dataflow), path in paths.items():
        for threads in opts["threads"]:
            interp = Interpreter(path, num_threads=threads)
            interps[(model, dataflow, threads)] = interp
            costs = timing.model_costs(interp)
            for batch in opts["batch"]:
                x = timing.input_batch(interp, batch, args.seed)
                extra = {"dataflow": dataflow, "isa": cpu.active_isa(), "file": str(path),
                         "model_bytes": timing.file_bytes(path), **costs,
                         "setting": f"Interpreter(num_threads={threads}), {dataflow} data-flow"}
                cases.append(timing.Case(model, DATAFLOW_ENGINES[dataflow], threads, batch,
                                         lambda it=interp, xx=x: it.run(xx), extra))
    timing.log(f"timing {len(cases)} bnnflow cases, {args.runs} interleaved rounds of "
               f"{args.burst} calls each")
    return timing.measure_interleaved(cases, args.runs, args.warmup, args.burst), interps


def _peer_models(opts: dict[str, Any]) -> dict[str, list[str]]:
    """Per selected peer, the counterparts of the selected bnnflow models."""
    from bnnflow.bench.models import PEER_COUNTERPARTS

    wanted: dict[str, list[str]] = {}
    for model, _ in opts["models"]:
        for peer, peer_model in PEER_COUNTERPARTS.get(model, {}).items():
            if peer in opts["peers"]:
                wanted.setdefault(peer, [])
                for m in (peer_model, "resnet18" if peer == "torch" else peer_model):
                    if m not in wanted[peer]:
                        wanted[peer].append(m)
    return wanted


def _run_peers(opts: dict[str, Any], args: argparse.Namespace) -> list[dict]:
    from bnnflow.bench.peers import PeerError, run_peers
    from bnnflow.cli.main import UsageError

    wanted = _peer_models(opts)
    if not opts["peers"]:
        return []
    skipped = [p for p in opts["peers"] if p not in wanted]
    if skipped:
        print(f"bnnflow bench: no counterpart of these models for peers {skipped}; skipped",
              file=sys.stderr)
    if not wanted:
        return []
    try:
        return run_peers(list(wanted), threads=opts["threads"], batch=opts["batch"],
                         runs=args.runs, warmup=args.warmup, burst=args.burst,
                         max_load=args.max_load,
                         models=wanted, save_dir=Path(args.workdir) / "peers")
    except PeerError as err:
        raise UsageError(str(err)) from None


def _annotate(recs: list[dict], load_before: float, load_after: float, ceilings: Any,
              measured: list[Any]) -> None:
    """Loads, ceilings (the best of ``measured``) and the lower bound from them, CPU name and
    published top-1 into every record."""
    from bnnflow.bench.models import PUBLISHED_TOP1
    from bnnflow.bench.timing import LOAD_WARN, lower_bound_ms

    cpu_name = _cpu_name()
    for r in recs:
        if r["engine"].startswith("bnnflow"):
            r["load_before"], r["load_after"] = load_before, load_after
            r["ceilings"] = ceilings.as_dict()
            r["ceilings_measured"] = [c.as_dict() for c in measured]
            r["lower_bound_ms"] = lower_bound_ms(r["binary_macs"], r["int8_macs"], r["batch"],
                                                 r["threads"], ceilings)
        r.setdefault("cpu", cpu_name)
        key = "resnet18-int8" if r["engine"] == "onnxruntime-int8" else r["model"]
        acc = PUBLISHED_TOP1.get(key)
        if acc is not None:
            r["published_top1"], r["top1_source"] = acc.top1, acc.source
    worst = max([load_before, load_after] + [r.get("load_after", 0.0) for r in recs])
    if worst > LOAD_WARN:
        print(f"bnnflow bench: WARNING: load average reached {worst:.2f} (> {LOAD_WARN}); "
              f"the machine was not quiet", file=sys.stderr)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _profile(interps: dict, recs: list[dict], ceilings: Any, opts: dict[str, Any]) -> None:
    """Per-op table for each (model, dataflow) and thread count, batch 1 (side by side, the
    tables of two thread counts show which ops scale)."""
    from bnnflow.bench import timing

    for (model, dataflow, threads), interp in interps.items():
        x = timing.input_batch(interp, 1)
        rows = timing.profile_ops(interp, x)
        whole = next((r for r in recs if r["model"] == model and r.get("dataflow") == dataflow
                      and r["threads"] == threads and r["batch"] == 1), None)
        title = f"== per-op profile: {model}, {dataflow} data-flow, {threads} thread(s), batch 1"
        print(timing.format_profile(title, rows, whole and whole["median_ms"], ceilings,
                                    threads), file=sys.stderr)
        steps = timing.profile_steps(interp, x)
        title = (f"== per-step profile (the program run executes, fused steps joined by '+'): "
                 f"{model}, {dataflow} data-flow, {threads} thread(s), batch 1")
        print(timing.format_steps(title, steps, whole and whole["median_ms"]), file=sys.stderr)
        if whole is not None:
            whole["profile"] = [{"name": r["name"], "type": r["type"],
                                 "median_ms": round(r["median_ms"], 4)} for r in rows]
            whole["steps"] = [{"name": r["name"], "type": r["type"],
                               "median_ms": round(r["median_ms"], 4)} for r in steps]


def _memory(recs: list[dict], paths: dict[tuple[str, str], Path],
            args: argparse.Namespace) -> None:
    """Peak RSS of one process per (engine, model): load the model, run once (1 thread,
    batch 1); attached to that engine's and model's threads=1, batch=1 record."""
    import os

    import bnnflow
    from bnnflow.bench import timing
    from bnnflow.bench.peers import find_root, peer_model_file, peer_python

    root = find_root()
    script = root / "benchmarks" / "memprobe.py"
    # The probe imports the bnnflow this process runs (an installed wheel or a dev tree),
    # never the checkout's src/, which lacks the built extension in a clean clone.
    here = str(Path(bnnflow.__file__).resolve().parent.parent)
    pypath = os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {"PYTHONPATH": pypath}
    for r in recs:
        if r["threads"] != 1 or r["batch"] != 1:
            continue
        if r["engine"].startswith("bnnflow"):
            python, engine, path = sys.executable, "bnnflow", paths[(r["model"], r["dataflow"])]
        else:
            path = peer_model_file(Path(args.workdir) / "peers", r)
            if path is None:
                continue
            engine = "torch" if r["engine"] == "torch" else r["engine"].replace("-int8", "")
            python = peer_python(r["engine"])
        try:
            got = timing.memory_probe(python, script, engine, path, env=env)
        except (RuntimeError, OSError) as err:
            timing.log(f"memory probe {r['engine']} {r['model']}: {err}")
            continue
        r.update({k: got[k] for k in ("peak_rss_bytes", "baseline_rss_bytes", "model_bytes")})
        timing.log(f"memory {r['engine']:18s} {r['model']:18s} file "
                   f"{got['model_bytes'] / 1e6:7.2f} MB, "
                   f"peak RSS {got['peak_rss_bytes'] / 1e6:7.1f} MB")


def _write_outputs(recs: list[dict], args: argparse.Namespace) -> None:
    from bnnflow.bench.report import markdown_report

    text = markdown_report(recs)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(recs, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text)
    if args.plot:
        from bnnflow.bench.plot import plot_comparison

        plot_comparison(recs, args.plot, title="224x224, random weights; median ms per image "
                        "(whisker min–max); peers: their twin of each model")
