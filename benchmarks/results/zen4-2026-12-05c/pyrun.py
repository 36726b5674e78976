"""Median and min ms of Interpreter.run back to back (300 calls after 20 warm-up calls).

Usage, from the repository root: PYTHONPATH=src python pyrun.py MODEL.bnn THREADS
"""

import sys
import time

import numpy as np

from bnnflow.runtime import Interpreter


def main() -> None:
    interp = Interpreter(sys.argv[1], num_threads=int(sys.argv[2]))
    x = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    for _ in range(20):
        interp.run(x)
    times = []
    for _ in range(300):
        t0 = time.perf_counter()
        interp.run(x)
        times.append(time.perf_counter() - t0)
    print(np.median(times) * 1e3, min(times) * 1e3)


if __name__ == "__main__":
    main()
