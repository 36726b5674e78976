"""Import LCE-converted larq-zoo models into bnnflow and compare with LCE (docs/import.md).

Step 1 (LCE peer environment) makes the ``.tflite`` files and LCE's outputs; step 2 (this
script, bnnflow's environment) imports each, runs it on bnnflow's engine and compares::

    .peers/lce/bin/python benchmarks/lce_make.py --models all --out out/lce_zoo
    PYTHONPATH=src python benchmarks/lce_import_check.py out/lce_zoo --markdown out/lce_zoo.md

(``--make`` runs step 1 first, with ``--lce-python``.) Per model and inference type it reports:
the logits' spread (std across inputs of the logits minus their batch mean), the share of
inputs whose logits agree with LCE's within ``TOL`` × spread (max over the classes), the same
share between the Keras model and LCE (the baseline: LCE's own float32 rounding), the share
of inputs with the same input-dependent top-1 (argmax of the logits minus their batch mean),
and the time per image of LCE (best setting, 1 thread; timed right before bnnflow with
``--lce-python`` when that exists, else step 1's figure) and of bnnflow's engine (1 thread)
on the same file, best of ``--runs``. A file that does not import is listed with the error.
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
    """LCE's time (ms/image, best of ``runs``, 1 thread) on ``tflite``, measured now in the LCE
    environment (so both engines are timed under the same machine load)."""
    if not lce_python or not os.path.exists(lce_python):
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([lce_python, os.path.join(here, "lce_make.py"), "--time-file", tflite,
                          "--time-runs", str(runs)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def check(tflite: str, runs: int, lce_python: str | None = None) -> dict:
    from bnnflow.convert.lce import TFLiteImportError, from_tflite
    from bnnflow.format import save
    from bnnflow.runtime import Interpreter

    name = os.path.basename(tflite)[: -len(".tflite")]
    d = np.load(tflite[: -len(".tflite")] + ".npz")
    x, y, keras = d["x"].astype(np.float32), d["y"], d["keras"]
    rec: dict = {"model": name, "inputs": len(x), "lce_ms": float(d["lce_ms"])}
    try:
        t = time.perf_counter()
        graph, tensors = from_tflite(tflite)
        rec["import_s"] = time.perf_counter() - t
    except TFLiteImportError as err:
        rec["error"] = str(err)
        return rec
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.bnn")
        save(path, graph, tensors)
        interp = Interpreter(path, 1)
        z = np.concatenate([interp.run(x[i : i + 16]) for i in range(0, len(x), 16)])
        one = x[:1]
        interp.run(one)
        lce_now = lce_time(lce_python, tflite, runs)
        rec["bnnflow_ms"] = 1e3 * min(_timed(interp, one) for _ in range(runs))
        if lce_now is not None:
            rec["lce_ms"] = lce_now
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


def _timed(interp, x) -> float:
    t = time.perf_counter()
    interp.run(x)
    return time.perf_counter() - t


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
            f"| {r['lce_ms']:.1f} | {r['bnnflow_ms']:.1f} | {r['lce_ms'] / r['bnnflow_ms']:.1f}x |")
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="where lce_make.py wrote <model>_<kind>.tflite/.npz")
    p.add_argument("--make", default=None, metavar="MODELS",
                   help="first run lce_make.py --models MODELS --out FOLDER in the LCE env")
    p.add_argument("--lce-python",
                   default=os.path.join(os.environ.get("PEERS_DIR", ".peers"), "lce", "bin",
                                        "python"),
                   help="the LCE environment's python ($PEERS_DIR or .peers, then lce/bin)")
    p.add_argument("--runs", type=int, default=10, help="timed runs (best is kept)")
    p.add_argument("--json", default=None)
    p.add_argument("--markdown", default=None)
    a = p.parse_args(argv)
    if a.make:
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([a.lce_python, os.path.join(here, "lce_make.py"), "--models", a.make,
                        "--out", a.folder], check=True)
    recs = []
    for f in sorted(glob.glob(os.path.join(a.folder, "*.tflite"))):
        rec = check(f, a.runs, a.lce_python)
        print(json.dumps(rec), file=sys.stderr, flush=True)
        recs.append(rec)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(recs, fh, indent=1)
    table = markdown(recs)
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(table)
    print(table)


if __name__ == "__main__":
    main()
