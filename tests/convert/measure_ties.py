"""Measure, per producing op, how the int8 export and the frozen stage-2 PyTorch model agree.

Two forwards of the frozen model are compared with the reference (= the engine) on random
stage-2 models (the draws of ``test_random_models.py`` without faults):

- the **eval** forward (``model.eval()(x)``, :mod:`bnnflow.nn.exact`: the engine's integer
  arithmetic): every Int8Point tensor on a free run (``helpers.compare_int8``) and the logits
  bit for bit — expected 0 mismatches;
- the **training** forward (fake-quant, real multipliers in float32, what the straight-through
  gradients see), with teacher forcing at every Int8Point: it differs only where its
  pre-rounding value ``v`` is within the fixed-point error of a rounding tie; the columns give
  those mismatches, how many are *exact* ties (``v = k + 0.5`` in float64) and the per-tensor
  rates. Run from the repository root::

    PYTHONPATH=src:tests python -m convert.measure_ties [--models 150]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from bnnflow.convert import ConversionError, convert
from bnnflow.graph import Graph, validate

from . import refops
from .helpers import build_random, compare_int8, fake_quant_int8_points, nhwc, stage2_
from .test_random_models import draw_spec, extreme_bn_


@dataclass
class Tally:
    """Counts of one producing op kind."""

    tensors: int = 0
    elements: int = 0
    mismatches: int = 0  # eval (exact) forward vs reference
    fq_mismatches: int = 0  # training (fake-quant) forward vs reference, teacher-forced
    exact_ties: int = 0
    rates: list[float] = field(default_factory=list)

    def add(self, n: int, bad: int, fq_bad: int, exact: int) -> None:
        self.tensors += 1
        self.elements += n
        self.mismatches += bad
        self.fq_mismatches += fq_bad
        self.exact_ties += exact
        self.rates.append(fq_bad / n if n else 0.0)


def producer_kind(graph: Graph, tensor: str) -> str:
    """What computes an Int8Point's integers: the op type, with the op before a requant."""
    ops = {op.outputs[0]: op for op in graph.ops}
    op = ops[tensor]
    if op.type in ("bconv", "bdense"):
        return f"{op.type} int8 epilogue"
    if op.type in ("requant", "requant32"):
        src = ops.get(op.inputs[0])
        if src is None or (op.type == "requant" and src.type != "maxpool_int8"):
            return f"{op.type} after BN / second Int8Point"
        return f"{op.type} after {src.type}"
    return op.type


def measure(model: torch.nn.Module, x: torch.Tensor, tallies: dict[str, Tally]) -> bool | None:
    """Add one model's counts; None if it does not convert, else whether its eval logits
    equal the reference's bit for bit."""
    try:
        graph, tensors = convert(model, x[:1], "int8")
    except ConversionError:
        return None
    report = compare_int8(model, graph, tensors, x)
    ints, reals, _ = fake_quant_int8_points(model, x)
    mapping = graph.metadata["int8_points"]
    infos = validate(graph, tensors)
    forced = {t: ints[k].reshape(-1, *infos[t].shape[1:]).astype(np.int8)
              for k, t in mapping.items()}
    seen = refops.run_all(graph, tensors, nhwc(x, np.uint8), force=forced)
    for k, t in mapping.items():
        ref = seen[t].astype(np.int64).reshape(ints[k].shape)
        bad = ref != ints[k]
        v = reals[k][bad]
        exact = int(np.sum(v - np.floor(v) == 0.5))
        tallies[producer_kind(graph, t)].add(int(ref.size), report.counts[k][1],
                                             int(bad.sum()), exact)
    return report.logits_equal


def run(models: int) -> tuple[dict[str, Tally], list[float], int, int]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    per_model: list[float] = []
    converted = logits_equal = 0
    for seed in range(models):
        spec = draw_spec(seed)
        share = spec.pop("extreme_bn")
        spec.pop("fault")
        model, x = build_random(spec)
        extreme_bn_(model, share, seed)
        stage2_(model, x)
        before = {k: (t.elements, t.fq_mismatches) for k, t in tallies.items()}
        same = measure(model, x, tallies)
        if same is None:
            continue
        converted += 1
        logits_equal += same
        n = sum(t.elements - before.get(k, (0, 0))[0] for k, t in tallies.items())
        bad = sum(t.fq_mismatches - before.get(k, (0, 0))[1] for k, t in tallies.items())
        per_model.append(bad / n)
    return tallies, per_model, converted, logits_equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tallies, per_model, converted, logits_equal = run(args.models)
    print(f"{converted} of {args.models} random stage-2 models converted; eval forward logits "
          f"bit-identical to the reference on {logits_equal} of {converted}\n")
    print("| producing op | tensors | elements | eval forward mismatches | training forward "
          "mismatches | rate | exact ties | tensors with any | median / p90 / max per tensor |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, t in sorted(tallies.items(),
                          key=lambda kv: -kv[1].fq_mismatches / kv[1].elements):
        r = np.array(t.rates)
        print(f"| {kind} | {t.tensors} | {t.elements} | {t.mismatches} | {t.fq_mismatches} | "
              f"{100 * t.fq_mismatches / t.elements:.3f} % | {t.exact_ties} | "
              f"{int(np.sum(r > 0))} | {100 * np.median(r):.2f} / "
              f"{100 * np.quantile(r, 0.9):.2f} / {100 * r.max():.2f} % |")
    pm = np.array(per_model)
    total = sum(t.elements for t in tallies.values())
    bad = sum(t.mismatches for t in tallies.values())
    fq = sum(t.fq_mismatches for t in tallies.values())
    print(f"\neval forward: {bad} of {total} elements differ; training forward: {fq} "
          f"({100 * fq / total:.3f} %), per model median {100 * np.median(pm):.3f} %, p90 "
          f"{100 * np.quantile(pm, 0.9):.3f} %, max {100 * pm.max():.3f} %, models with no "
          f"mismatch {int(np.sum(pm == 0))}")

if __name__ == "__main__":
    main()
