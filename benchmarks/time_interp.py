"""Time Interpreter.run on a .bnn (batch 1, 1 thread): median/min of N runs; with --profile,
the sum of the native per-op times (median per op over the profiled runs)."""
import json
import statistics
import sys
import time

import numpy as np

from bnnflow.runtime import Interpreter

path, runs = sys.argv[1], int(sys.argv[2])
interp = Interpreter(path, num_threads=1)
spec = interp.input_spec
x = np.random.default_rng(0).integers(0, 256, (1, *spec.shape[1:])).astype(spec.dtype)
for _ in range(10):
    interp.run(x)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    interp.run(x)
    times.append(time.perf_counter() - t0)
out = {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3}
if hasattr(interp, "profile"):
    per = {}
    for _ in range(runs):
        for name, _type, sec in interp.profile(x):
            per.setdefault(name, []).append(sec)
    out["sum_ops_ms"] = sum(statistics.median(v) for v in per.values()) * 1e3
print(json.dumps(out))
