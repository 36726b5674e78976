"""Best-of-many times of one fused residual block step (docs/performance.md, "Fused residual
blocks"): int8 [H, W, C] -> bconv 3x3 (int8) -> add (residual) -> optional pwl -> pack, run
as the fused step and as the unfused ops (fuse=False), per ISA.

Usage: PYTHONPATH=src python scripts/bench_residual.py [--isa avx512] [--pwl] [--runs 300]
       [--size 56] [--channels 64]
Prints the fused step's best time and the sum of the unfused steps' best times (ms).
"""

from __future__ import annotations

import argparse

import numpy as np

from bnnflow.graph import InputSpec
from bnnflow.graph.builder import GraphBuilder
from bnnflow.graph.examples import (
    epilogue_attrs,
    epilogue_params,
    grouped_packed_weights,
    random_input,
    requant_params,
)
from bnnflow.runtime import Interpreter


def block_graph(rng: np.random.Generator, size: int, c: int, pwl: bool):
    """The residual block of a ResNet-18-style BNN with the next block's sign."""
    b = GraphBuilder(InputSpec("x", (-1, size, size, c), "int8"), "int8")
    x = b.add("requant", "in", [b.input], **requant_params(rng, c))
    p = b.add("pack", "sign1", [x], {"groups": 1}, t=np.zeros(c, np.int32))
    y = b.add("bconv", "conv", [p], {"stride": 1, "padding": 1, "pad_mode": "zero",
                                    "groups": 1, **epilogue_attrs("int8")},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    a = requant_params(rng, c)
    y = b.add("add", "add", [y, x], Ma=a["M"], Mb=a["M"], B=a["B"], s=a["s"])
    if pwl:
        q = requant_params(rng, c)
        y = b.add("pwl", "act", [y], t=np.zeros(c, np.int32), Mp=q["M"], Bp=q["B"],
                  Mn=a["M"], Bn=a["B"], s=q["s"])
    p = b.add("pack", "sign2", [y], {"groups": 1}, t=np.zeros(c, np.int32))
    y = b.add("bconv", "next", [p], {"stride": 1, "padding": 1, "pad_mode": "one",
                                    "groups": 1, **epilogue_attrs("int8")},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    y = b.add("global_sumpool_int8", "pool", [y])
    y = b.add("dequant", "out", [y], scale=np.ones(c, np.float32), bias=np.zeros(c, np.float32))
    return b.build(y, c)


def best_steps(interp: Interpreter, x: np.ndarray, runs: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(runs):
        for name, _, sec in interp.profile(x):
            best[name] = min(best.get(name, sec), sec)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--isa", default=None)
    ap.add_argument("--pwl", action="store_true")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--channels", type=int, default=64)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    graph, tensors = block_graph(rng, args.size, args.channels, args.pwl)
    x = random_input(rng, graph, 1)
    fused = Interpreter.from_graph(graph, tensors, 1, isa=args.isa)
    plain = Interpreter.from_graph(graph, tensors, 1, isa=args.isa, fuse=False)
    step = next(s for s in fused.steps if s.startswith("conv+"))
    tail = ["conv", "add"] + (["act"] if args.pwl else []) + ["sign2"]
    for _ in range(3):  # interleaved rounds: the machine's load drifts
        f = best_steps(fused, x, args.runs)[step]
        u = best_steps(plain, x, args.runs)
        print(f"{step}: fused {f * 1e3:.4f} ms   unfused "
              + " + ".join(f"{n} {u[n] * 1e3:.4f}" for n in tail)
              + f" = {sum(u[n] for n in tail) * 1e3:.4f} ms", flush=True)


if __name__ == "__main__":
    main()
