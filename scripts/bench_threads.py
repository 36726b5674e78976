"""1- vs 2-thread timings of the layers the threading goal names (docs/performance.md,
"Threads"): requant / add / pwl on 56x56x64, binary 3x3 convolutions, the int8 stem.

Usage: PYTHONPATH=src python scripts/bench_threads.py [glue] [bconv] [stem]
Best of many calls each, with ``out=`` given (no allocation in the timed call).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from bnnflow import _engine as e


def best_ms(fn: Callable[[], object], calls: int) -> float:
    best = float("inf")
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def report(name: str, fn: Callable[[int], object], calls: int) -> None:
    t1 = best_ms(lambda: fn(1), calls)
    t2 = best_ms(lambda: fn(2), calls)
    t1 = min(t1, best_ms(lambda: fn(1), calls))
    print(f"{name:40s} 1T {t1:.4f} ms  2T {t2:.4f} ms  x{t1 / t2:.2f}", flush=True)


def glue(r: np.random.Generator) -> None:
    c = 64
    x = r.integers(-128, 128, (1, 56, 56, c)).astype(np.int8)
    m, b, s = np.ones(c, np.int16), np.zeros(c, np.int32), np.ones(c, np.int32)
    out = np.empty_like(x)
    report("requant 56x56x64", lambda t: e.requant(x, m, b, s, threads=t, out=out), 3000)
    report("add_int8 56x56x64",
           lambda t: e.add_int8(x, x, m, m, b, s, threads=t, out=out), 3000)
    report("pwl_int8 56x56x64",
           lambda t: e.pwl_int8(x, b, m, b, m, b, s, threads=t, out=out), 3000)


def bconv(r: np.random.Generator) -> None:
    for cin, cout, h in [(64, 64, 56), (256, 256, 14), (512, 512, 7)]:
        wg = (cin + 31) // 32
        x = r.integers(0, 2**32, (1, h, h, wg), dtype=np.uint32)
        w = e.prepare_bconv_weights(r.integers(0, 2**32, (cout, 3, 3, wg), dtype=np.uint32), cin)
        ep = {"epilogue": "int8", "multiplier": np.ones(cout, np.int16),
              "offset": np.zeros(cout, np.int32), "shift": np.full(cout, 4, np.int32)}
        out = e.bconv2d(x, w, padding=1, **ep)
        report(f"bconv 3x3 {cin}->{cout} {h}x{h} int8",
               lambda t, x=x, w=w, ep=ep, out=out: e.bconv2d(x, w, padding=1, **ep, threads=t,
                                                            out=out), 500)


def stem(r: np.random.Generator) -> None:
    x = r.integers(0, 256, (1, 224, 224, 3)).astype(np.uint8)
    w = e.prepare_conv2d_int8_weights(r.integers(-128, 128, (64, 7, 7, 3)).astype(np.int8),
                                      np.zeros(64, np.int32), np.zeros(3, np.int32))
    out = e.conv2d_int8(x, w, 2, 3)
    report("stem conv2d_int8 7x7 s2 (prepared)",
           lambda t: e.conv2d_int8(x, w, 2, 3, threads=t, out=out), 100)


if __name__ == "__main__":
    parts = sys.argv[1:] or ["glue", "bconv", "stem"]
    rng = np.random.default_rng(0)
    for part in parts:
        {"glue": glue, "bconv": bconv, "stem": stem}[part](rng)
