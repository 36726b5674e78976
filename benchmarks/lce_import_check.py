"""Import LCE-converted larq-zoo models into bnnflow and compare with LCE (docs/import.md).

One command makes the files, checks agreement and times both engines (docs/import.md's table)::

    PYTHONPATH=src python benchmarks/lce_import_check.py out/lce_zoo --make all --random 96 \
        --max-load 0.5 --markdown out/lce_zoo.md --json out/lce_zoo.json

``--make MODELS`` first runs ``lce_make.py`` in the LCE peer environment (``--lce-python``):
each model built with seeded random weights and BN statistics, converted by LCE, LCE's
outputs recorded. Then, per ``<model>_<kind>.tflite`` in the folder: **agreement** (import,
run on bnnflow's engine, compare: the logits' spread = std across inputs of the logits minus
their batch mean; the share of inputs whose logits agree with LCE's within ``TOL`` × spread,
max over the classes; the same share between the Keras model and LCE, the baseline of LCE's
own float32 rounding; the share with the same input-dependent top-1), for every file first;
then **timing** (one image, 1 thread, median of ``--runs``: LCE's interpreter in the LCE
environment, best x86 setting, then bnnflow's engine, on the same file). Before each model's
timing the 1-minute load average must fall to ``--max-load`` (waiting up to ``--load-wait``
seconds; the agreement phase and ``--make`` load the machine themselves), else the script
stops with an error naming the load; every timed record keeps the load before and after.
``--no-time`` skips the timing (agreement only; the table shows "—"). A file that does not
import is listed with the error.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TOL = 1e-3


def top1(z: np.ndarray) -> np.ndarray:
    return np.argmax(z - z.mean(axis=0), axis=1)


def agreement(a: np.ndarray, b: np.ndarray, spread: float) -> float:
    return float((np.abs(a - b).max(axis=1) <= TOL * spread).mean())


def lce_time(lce_python: str | None, tflite: str, runs: int) -> float | None:
    """LCE's time (ms/image, median of ``runs``, 1 thread) on ``tflite``, measured now in the LCE
    environment (so both engines are timed under the same machine load)."""
    if not lce_python or not os.path.exists(lce_python):
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([lce_python, os.path.join(here, "lce_make.py"), "--time-file", tflite,
                          "--time-runs", str(runs)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _import(tflite: str, rec: dict):  # -> (graph, tensors) or None (rec["error"] set)
    from bnnflow.convert.lce import TFLiteImportError, from_tflite

    try:
        t = time.perf_counter()
        graph, tensors = from_tflite(tflite)
        rec["import_s"] = time.perf_counter() - t
    except TFLiteImportError as err:
        rec["error"] = str(err)
        return None
    return graph, tensors


def _interpreter(graph, tensors, tmp: str):
    from bnnflow.format import save
    from bnnflow.runtime import Interpreter

    path = os.path.join(tmp, "m.bnn")
    save(path, graph, tensors)
    return Interpreter(path, 1)


def agree(tflite: str) -> dict:
    """Import ``tflite``, run its inputs (the ``.npz`` beside it) on bnnflow's engine and
    compare with LCE's and the Keras model's logits (the module docstring lists the fields)."""
    name = os.path.basename(tflite)[: -len(".tflite")]
    d = np.load(tflite[: -len(".tflite")] + ".npz")
    x, y, keras = d["x"].astype(np.float32), d["y"], d["keras"]
    rec: dict = {"model": name, "inputs": len(x), "file": tflite,
                 "lce_ms_at_make": float(d["lce_ms"])}
    imported = _import(tflite, rec)
    if imported is None:
        return rec
    graph, tensors = imported
    with tempfile.TemporaryDirectory() as tmp:
        interp = _interpreter(graph, tensors, tmp)
        z = np.concatenate([interp.run(x[i : i + 16]) for i in range(0, len(x), 16)])
    spread = float((y - y.mean(axis=0)).std())
    rec.update(
        spread=spread,
        max_err=float(np.abs(z - y).max()),
        median_rel_err=float(np.median(np.abs(z - y).max(axis=1)) / spread),
        agree_lce=agreement(z, y, spread),
        agree_keras_lce=agreement(keras, y, spread),
        agree_bnnflow_keras=agreement(z, keras, spread),
        top1_lce=float((top1(z) == top1(y)).mean()),
        top1_keras_lce=float((top1(keras) == top1(y)).mean()),
        ops=len(graph.ops),
    )
    return rec


def wait_quiet(max_load: float | None, wait_s: float, poll_s: float = 5.0) -> float:
    """The 1-minute load average once it is at most ``max_load`` (polled every ``poll_s``
    seconds, at most ``wait_s``); ``RuntimeError`` naming the load if it stays above. Without
    ``max_load``: the load now, with bnnflow's loud warning above 0.5."""
    from bnnflow.bench.timing import check_quiet, load_average

    if max_load is None:
        return check_quiet(None)
    deadline = time.monotonic() + wait_s
    while load_average() > max_load and time.monotonic() < deadline:
        time.sleep(poll_s)
    return check_quiet(max_load)


def time_both(rec: dict, runs: int, lce_python: str | None, max_load: float | None = None,
              load_wait: float = 300.0) -> dict:
    """Time LCE (``lce_python``; else the time recorded at make) and then bnnflow's engine on
    ``rec``'s file: one image, 1 thread, median of ``runs``; the load before and after."""
    if "error" in rec:
        return rec
    rec["load_before"] = wait_quiet(max_load, load_wait)
    imported = _import(rec["file"], {})
    graph, tensors = imported
    one = np.load(rec["file"][: -len(".tflite")] + ".npz")["x"][:1].astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        interp = _interpreter(graph, tensors, tmp)
        interp.run(one)
        lce_now = lce_time(lce_python, rec["file"], runs)
        rec["bnnflow_ms"] = 1e3 * float(np.median([_timed(interp, one) for _ in range(runs)]))
    rec["lce_ms"] = lce_now if lce_now is not None else rec["lce_ms_at_make"]
    rec["lce_timed_now"] = lce_now is not None
    from bnnflow.bench.timing import load_average

    rec["load_after"] = load_average()
    return rec


def check(tflite: str, runs: int, lce_python: str | None = None, timed: bool = True,
          max_load: float | None = None) -> dict:
    """:func:`agree` and, with ``timed``, :func:`time_both` for one file."""
    rec = agree(tflite)
    return time_both(rec, runs, lce_python, max_load) if timed else rec


def _timed(interp, x) -> float:
    t = time.perf_counter()
    interp.run(x)
    return time.perf_counter() - t


def _times(r: dict) -> str:
    if "bnnflow_ms" not in r:
        return "— | — | —"
    return f"{r['lce_ms']:.1f} | {r['bnnflow_ms']:.1f} | {r['lce_ms'] / r['bnnflow_ms']:.1f}x"


def markdown(recs: list[dict]) -> str:
    head = ("| model | inputs | spread | median error | agree with LCE | Keras vs LCE | "
            "bnnflow vs Keras | top-1 = LCE | top-1 Keras = LCE | LCE ms | bnnflow ms | "
            "speed-up |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    rows = []
    for r in recs:
        if "error" in r:
            rows.append(f"| {r['model']} | — | not imported: {r['error']} ||||||||||")
            continue
        rows.append(
            f"| {r['model']} | {r['inputs']} | {r['spread']:.3g} | {r['median_rel_err']:.1e} "
            f"| {100 * r['agree_lce']:.1f} % "
            f"| {100 * r['agree_keras_lce']:.1f} % | {100 * r['agree_bnnflow_keras']:.1f} % "
            f"| {100 * r['top1_lce']:.1f} % | {100 * r['top1_keras_lce']:.1f} % "
            f"| {_times(r)} |")
    loads = [r[k] for r in recs for k in ("load_before", "load_after") if k in r]
    tail = (f"\nLoad average (1 min) during the timings: {min(loads):.2f} – {max(loads):.2f}.\n"
            if loads else "")
    return head + "\n".join(rows) + "\n" + tail


def _make(a: argparse.Namespace) -> None:
    """Run ``lce_make.py`` in the LCE environment into ``a.folder``."""
    if not os.path.exists(a.lce_python):
        raise SystemExit(f"lce_import_check: no LCE environment at {a.lce_python} "
                         "(scripts/peers-env.sh lce, or --lce-python)")
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([a.lce_python, os.path.join(here, "lce_make.py"), "--models", a.make,
                    "--kinds", a.kinds, "--random", str(a.random), "--out", a.folder],
                   check=True)


def _write(a: argparse.Namespace, recs: list[dict]) -> str:
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(recs, fh, indent=1)
    table = markdown(recs)
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(table)
    return table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="where lce_make.py wrote <model>_<kind>.tflite/.npz")
    p.add_argument("--make", default=None, metavar="MODELS",
                   help="first run lce_make.py --models MODELS --out FOLDER in the LCE env "
                        "('all': every larq-zoo model)")
    p.add_argument("--kinds", default="float", help="with --make: lce_make.py's --kinds")
    p.add_argument("--random", type=int, default=96,
                   help="with --make: random inputs per model (plus 23 structured ones)")
    p.add_argument("--lce-python",
                   default=os.path.join(os.environ.get("PEERS_DIR", ".peers"), "lce", "bin",
                                        "python"),
                   help="the LCE environment's python ($PEERS_DIR or .peers, then lce/bin)")
    p.add_argument("--runs", type=int, default=15, help="timed runs (the median is kept)")
    p.add_argument("--no-time", action="store_true", help="agreement only, no timing")
    p.add_argument("--max-load", type=float, default=None,
                   help="time a model only once the 1-minute load average is at most this "
                        "(else stop with an error)")
    p.add_argument("--load-wait", type=float, default=300.0,
                   help="seconds to wait per model for the load to fall to --max-load")
    p.add_argument("--json", default=None)
    p.add_argument("--markdown", default=None)
    a = p.parse_args(argv)
    if a.make:
        _make(a)
    files = sorted(glob.glob(os.path.join(a.folder, "*.tflite")))
    if not files:
        raise SystemExit(f"lce_import_check: no .tflite files in {a.folder}")
    recs = []
    for f in files:
        recs.append(agree(f))
        print(json.dumps(recs[-1]), file=sys.stderr, flush=True)
    if not a.no_time:
        for rec in recs:
            try:
                time_both(rec, a.runs, a.lce_python, a.max_load, a.load_wait)
            except RuntimeError as err:
                _write(a, recs)
                raise SystemExit(f"lce_import_check: {rec['model']}: {err} (agreement "
                                 "written; rerun on a quiet machine)") from err
            print(json.dumps(rec), file=sys.stderr, flush=True)
    print(_write(a, recs))


if __name__ == "__main__":
    main()
