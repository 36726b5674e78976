"""Load a ``.bnn`` model and run it once on one random input: the process to put under
``valgrind --tool=callgrind --toggle-collect='bnnflow::engine::Model::run(*'`` for
repeatable instruction counts (docs/performance.md).

Usage: PYTHONPATH=src python benchmarks/run_once.py MODEL.bnn [--isa avx2] [--no-fuse]
(``bnnflow bench birealnet18 --workdir DIR`` leaves ``DIR/birealnet18-int8-s0.bnn``, 224x224.)
"""

from __future__ import annotations

import argparse

from bnnflow.bench import timing
from bnnflow.runtime import Interpreter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--isa", default=None, help="scalar, avx2, avx512, neon (default: best)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fuse", action="store_true", help="one step per op")
    args = ap.parse_args()
    interp = Interpreter(args.model, args.threads, isa=args.isa,
                         fuse=False if args.no_fuse else None)
    interp.run(timing.input_batch(interp, 1))


if __name__ == "__main__":
    main()
