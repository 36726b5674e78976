"""The BNN-Clip effect through ``Interpreter.run``: an int8 and a float export of one model
timed alternately (five rounds), 1 thread; prints each median and float / int8 per batch.

    python benchmarks/time_dataflows.py INT8.bnn FLOAT.bnn [CALLS_AT_BATCH_1]

The ISA is the best this CPU runs, or ``BNNFLOW_ISA``. Batch 256 gets CALLS / 64 calls."""
import statistics
import sys
import time

import numpy as np

from bnnflow.runtime import Interpreter


def main() -> None:
    paths = {"int8": sys.argv[1], "float": sys.argv[2]}
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
    interps = {d: Interpreter(p, num_threads=1) for d, p in paths.items()}
    rng = np.random.default_rng(0)
    for batch, n in ((1, calls), (256, max(5, calls // 64))):
        times: dict[str, list[float]] = {d: [] for d in interps}
        for _ in range(5):
            for d, interp in interps.items():
                spec = interp.input_spec
                x = rng.integers(0, 256, (batch, *spec.shape[1:])).astype(spec.dtype)
                interp.run(x)
                for _ in range(max(1, n // 5)):
                    t0 = time.perf_counter()
                    interp.run(x)
                    times[d].append(time.perf_counter() - t0)
        med = {d: 1e3 * statistics.median(t) for d, t in times.items()}
        low = {d: 1e3 * min(t) for d, t in times.items()}
        print(f"{interps['int8'].isa} batch {batch}: int8 {med['int8']:.4f} ms "
              f"(min {low['int8']:.4f}), float {med['float']:.4f} ms (min {low['float']:.4f}), "
              f"float / int8 {med['float'] / med['int8']:.2f}x (minima "
              f"{low['float'] / low['int8']:.2f}x)")


if __name__ == "__main__":
    main()
