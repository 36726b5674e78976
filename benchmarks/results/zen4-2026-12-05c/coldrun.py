"""Median ms of Interpreter.run (1 thread) back to back, then with MB megabytes touched before
each call (the caches cold, as in the interleaved bench).

Usage, from the repository root: PYTHONPATH=src python coldrun.py MODEL.bnn MB
"""

import sys
import time

import numpy as np

from bnnflow.runtime import Interpreter


def timed(interp: Interpreter, x: np.ndarray, junk: np.ndarray | None) -> float:
    times = []
    for _ in range(100):
        if junk is not None:
            junk += 1
        t0 = time.perf_counter()
        interp.run(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def main() -> None:
    interp = Interpreter(sys.argv[1], num_threads=1)
    x = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    junk = np.ones(int(sys.argv[2]) << 20, dtype=np.uint8)
    for _ in range(10):
        interp.run(x)
    print("warm", timed(interp, x, None), "after touching", sys.argv[2], "MB:",
          timed(interp, x, junk))


if __name__ == "__main__":
    main()
