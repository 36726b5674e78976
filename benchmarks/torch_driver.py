"""PyTorch fp32 peer timings (runs in the main environment, torch 2.13 CPU).

Two ways to run a float model in eval mode, both on channels_last input:

- ``torch-jit``: ``torch.jit.freeze(torch.jit.trace(model, x))`` (oneDNN-friendly graph with
  BN folded into the convs by freezing);
- ``torch-compile``: ``torch.compile(model)`` (Inductor, C++ codegen, with
  ``torch._inductor.config.freezing = True``); needs a working C++ compiler. If compiling fails
  the driver says why and keeps the jit numbers.

For every (model, threads, batch) the faster of the two is also reported as engine ``torch``
with its ``setting``. Threads: ``torch.set_num_threads(N)`` before each timed call (outside the
timer). Models: ``resnet18`` and bnnflow's float twins (``bnnflow.bench.models.float_twin``:
the same topology with real convolutions where the binary ones are) of Bi-Real-Net-18,
QuickNet and FTBNN-18. ``--save-dir DIR`` also writes each frozen TorchScript module
(``MODEL_bBATCH.pt``) for the memory probe. Usage::

    python benchmarks/torch_driver.py --threads 1,2 --batch 1,8 --json out/torch.json
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil as bu
import torch
from resnet18 import resnet18

try:
    import bnnflow  # noqa: F401
except ImportError:  # run from the checkout without PYTHONPATH=src
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "src"))


def _twin(name: str) -> Callable[[], torch.nn.Module]:
    def build() -> torch.nn.Module:
        from bnnflow.bench.models import float_twin

        return float_twin(name)

    return build


MODELS: dict[str, Callable[[], torch.nn.Module]] = {
    "resnet18": resnet18,
    "birealnet18-float": _twin("birealnet18"),
    "quicknet-float": _twin("quicknet"),
    "ftbnn18-float": _twin("ftbnn18"),
}
VARIANTS = ("jit", "compile")
SETTINGS = {
    "jit": "torch.jit.freeze(torch.jit.trace), channels_last, fp32",
    "compile": "torch.compile (inductor, freezing), channels_last, fp32",
}


def build_jit(model: torch.nn.Module, x: torch.Tensor) -> Callable[[torch.Tensor], Any]:
    """Trace and freeze ``model`` for input ``x``."""
    with torch.no_grad():
        return torch.jit.freeze(torch.jit.trace(model, x))


def build_compile(model: torch.nn.Module, x: torch.Tensor) -> Callable[[torch.Tensor], Any]:
    """``torch.compile`` with Inductor weight freezing; compiles eagerly on ``x``."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    fn = torch.compile(model, dynamic=False)
    with torch.no_grad():
        fn(x)
    return fn


def make_case(
    name: str, variant: str, fn: Callable[[torch.Tensor], Any], x: torch.Tensor, threads: int
) -> bu.Case:
    """A timed case that runs ``fn(x)`` under ``no_grad`` with ``threads`` intra-op threads."""

    def run() -> None:
        with torch.no_grad():
            fn(x)

    return bu.Case(
        model=name,
        engine=f"torch-{variant}",
        threads=threads,
        batch=x.shape[0],
        run=run,
        prepare=lambda: torch.set_num_threads(threads),
        extra={"setting": SETTINGS[variant], "torch": torch.__version__},
    )


def build_cases(args: argparse.Namespace, names: list[str], variants: list[str]) -> list[bu.Case]:
    """Build every (model, variant, batch) once; one case per thread count on top."""
    cases = []
    gen = torch.Generator().manual_seed(0)
    for name in names:
        model = MODELS[name]().to(memory_format=torch.channels_last).eval()
        for batch in args.batch:
            x = torch.randn(batch, 3, 224, 224, generator=gen).to(memory_format=torch.channels_last)
            torch.set_num_threads(max(args.threads))
            for variant in variants:
                builder = build_jit if variant == "jit" else build_compile
                try:
                    fn = builder(model, x)
                except Exception as err:  # compile needs a compiler; report, keep going
                    bu.log(
                        f"torch-{variant} {name} b={batch}: FAILED ({type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''})"
                    )
                    continue
                if variant == "jit" and args.save_dir:
                    os.makedirs(args.save_dir, exist_ok=True)
                    torch.jit.save(fn, os.path.join(args.save_dir, f"{name}_b{batch}.pt"))
                cases.extend(make_case(name, variant, fn, x, t) for t in args.threads)
    return cases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bu.common_args(parser, list(MODELS))
    parser.add_argument("--variants", default="jit,compile", help="subset of jit,compile")
    parser.add_argument("--save-dir", default=None, help="also write the frozen TorchScript "
                        "modules here (MODEL_bBATCH.pt)")
    args = parser.parse_args(argv)
    names = bu.pick_models(args.models, list(MODELS))
    variants = [v for v in args.variants.split(",") if v]
    if not variants or any(v not in VARIANTS for v in variants):
        raise SystemExit(f"--variants: choose from {list(VARIANTS)}, got {args.variants!r}")
    bu.log(f"uptime before: {bu.uptime_line()}")
    load_before = bu.check_load(args.max_load)
    cases = build_cases(args, names, variants)
    if not cases:
        raise SystemExit("no torch variant could be built")
    records = bu.add_best(bu.measure(cases, args.runs, args.warmup, args.burst), "torch-", "torch")
    bu.finish(records, args.json, load_before)


if __name__ == "__main__":
    main()
