"""Per-step times of the program ``run`` executes at 1 and at N threads, side by side, with the
speed-up per step and per step type: which steps keep the whole model from scaling
(docs/performance.md, "Threads").

Usage: PYTHONPATH=src python benchmarks/step_scaling.py MODEL.bnn [--threads 2] [--repeats 30]
(``bnnflow bench birealnet18 --workdir DIR`` leaves ``DIR/birealnet18-int8-s0.bnn``.)
Medians over ``--repeats`` profiled runs; quote them only from a quiet machine.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from bnnflow.bench import timing
from bnnflow.runtime import Interpreter


def step_medians(path: str, threads: int, repeats: int) -> tuple[list[dict], float]:
    interp = Interpreter(path, num_threads=threads)
    x = timing.input_batch(interp, 1)
    rows = timing.profile_steps(interp, x, repeats=repeats)
    return rows, sum(r["median_ms"] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    load = timing.load_average()
    one, sum1 = step_medians(args.model, 1, args.repeats)
    many, sum_n = step_medians(args.model, args.threads, args.repeats)
    n = args.threads
    print(f"load average {load:.2f}; medians of {args.repeats} profiled runs")
    print(f"{'#':>3} {'type':28s} {'1T ms':>8} {f'{n}T ms':>8} {'x':>6}  name")
    by_type: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for i, (a, b) in enumerate(zip(one, many, strict=True)):
        t1, tn = a["median_ms"], b["median_ms"]
        by_type[a["type"]][0] += t1
        by_type[a["type"]][1] += tn
        print(f"{i:3d} {a['type']:28s} {t1:8.4f} {tn:8.4f} {t1 / max(tn, 1e-9):6.2f}  {a['name']}")
    print("\nby type (sorted by the time lost to imperfect scaling, 1T/N subtracted):")
    lost = sorted(by_type.items(), key=lambda kv: -(kv[1][1] - kv[1][0] / n))
    for kind, (t1, tn) in lost:
        print(f"  {kind:28s} 1T {t1:7.3f} ms  {n}T {tn:7.3f} ms  x{t1 / max(tn, 1e-9):.2f}  "
              f"lost {tn - t1 / n:6.3f} ms")
    print(f"sum of steps: 1T {sum1:.3f} ms, {n}T {sum_n:.3f} ms, x{sum1 / sum_n:.2f}")


if __name__ == "__main__":
    main()
