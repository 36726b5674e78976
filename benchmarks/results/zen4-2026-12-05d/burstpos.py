"""Median time of the k-th back-to-back call after the other bench cases ran (bench method).

Usage: PYTHONPATH=src python burstpos.py MODELDIR BURST ROUNDS
Eight interpreters (Bi-Real-Net-18 / QuickNet x int8 / float x 1 / 2 threads), interleaved as
`bnnflow bench` does; prints, per int8 case, the median of call 1, 2, ..., BURST of the bursts.
"""
import sys
import time

import numpy as np

from bnnflow.runtime import Interpreter

root, burst, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = [(m, d, t) for m in ("birealnet18", "quicknet") for d in ("int8", "float") for t in (1, 2)]
its = [Interpreter(f"{root}/{m}-{d}-s0.bnn", num_threads=t) for m, d, t in names]
rng = np.random.default_rng(0)
xs = [rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8) if d == "int8"
      else rng.standard_normal((1, 224, 224, 3)).astype(np.float32) for _, d, _ in names]
for it, x in zip(its, xs, strict=True):
    for _ in range(3):
        it.run(x)
pos = [[[] for _ in range(burst)] for _ in names]
for r in range(rounds):
    for j in range(len(its)):
        i = (r + j) % len(its)
        for k in range(burst):
            t = time.perf_counter()
            its[i].run(xs[i])
            pos[i][k].append(time.perf_counter() - t)
for (m, d, t), p in zip(names, pos, strict=True):
    if d == "int8":
        print(f"{m} {d} {t} thread(s):", " ".join(f"{np.median(q) * 1e3:.3f}" for q in p))
