"""1 vs N threads at batch 1, through the Python API and (optionally) the native runner,
alternated over several rounds; medians per round (docs/performance.md, "Threads").

Per round, in one process: a 1-thread and an N-thread :class:`Interpreter` of the model, each
timed back to back (``run`` in a loop, as ``Interpreter.run`` users call it); the two
interleaved run by run (as ``bnnflow bench`` times its cases: the N-thread pool's workers go
to sleep while the other case runs); and the N-thread one after a 3 ms pause before every run
(a worker that slept). With ``--native PATH`` to ``bnnflow-benchmark`` each round also runs
it at 1 and at N threads. Quote the figures only from a quiet machine (the load average is
printed per round).

Usage: PYTHONPATH=src python benchmarks/threads_batch1.py MODEL.bnn [--threads 2]
[--rounds 4] [--runs 300] [--native build/ct/bnnflow-benchmark]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from collections.abc import Callable

from bnnflow.bench import timing
from bnnflow.runtime import Interpreter


def _median_ms(fn: Callable[[], object], runs: int, pause_s: float = 0.0) -> float:
    ts = []
    for _ in range(runs):
        if pause_s:
            time.sleep(pause_s)
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ts)


def _interleaved_ms(a: Callable[[], object], b: Callable[[], object],
                    runs: int) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(runs):
        for f, ts in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ta), 1e3 * statistics.median(tb)


def _native_ms(runner: str, model: str, threads: int, runs: int) -> float:
    out = subprocess.run([runner, model, "--runs", str(runs), "--threads", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"median ([0-9.]+) ms", out)
    if m is None:
        raise RuntimeError(f"no median in the output of {runner}: {out!r}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--native", default=None, help="path to bnnflow-benchmark")
    args = ap.parse_args()
    n = args.threads
    one, many = Interpreter(args.model, 1), Interpreter(args.model, n)
    x = timing.input_batch(one, 1)
    for _ in range(20):
        one.run(x)
        many.run(x)
    print(f"{'round':>5} {'load':>5} | {'1T':>6} {f'{n}T':>6} {'x':>5} | interleaved "
          f"{'1T':>6} {f'{n}T':>6} {'x':>5} | after 3 ms {f'{n}T':>6}"
          + (f" | native {'1T':>6} {f'{n}T':>6} {'x':>5}" if args.native else ""))
    for r in range(args.rounds):
        load = timing.load_average()
        b1 = _median_ms(lambda: one.run(x), args.runs)
        bn = _median_ms(lambda: many.run(x), args.runs)
        i1, i_n = _interleaved_ms(lambda: one.run(x), lambda: many.run(x), args.runs // 2)
        sn = _median_ms(lambda: many.run(x), max(args.runs // 3, 1), pause_s=0.003)
        line = (f"{r:5d} {load:5.2f} | {b1:6.3f} {bn:6.3f} {b1 / bn:5.2f} | interleaved "
                f"{i1:6.3f} {i_n:6.3f} {i1 / i_n:5.2f} | after 3 ms {sn:6.3f}")
        if args.native:
            n1 = _native_ms(args.native, args.model, 1, args.runs)
            nn = _native_ms(args.native, args.model, n, args.runs)
            line += f" | native {n1:6.3f} {nn:6.3f} {n1 / nn:5.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
