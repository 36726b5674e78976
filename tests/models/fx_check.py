"""Shared checks: torch.fx tracing (plain, and with bnnflow.nn modules as leaves)."""

from __future__ import annotations

from collections import Counter

import torch
import torch.fx
from torch import nn


class LeafTracer(torch.fx.Tracer):
    """Treats every bnnflow.nn module as a leaf, as the converter does."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__module__.startswith("bnnflow.nn") or super().is_leaf_module(m, qualname)


def check_traces(model: nn.Module, x: torch.Tensor | None) -> torch.fx.Graph:
    """Plain symbolic_trace reproduces the output on ``x`` (skipped for ``None``); the leaf
    trace calls every bnnflow.nn module exactly once (one node per quantizer, non-linearity
    and Int8Point)."""
    model.eval()
    gm = torch.fx.symbolic_trace(model)
    if x is not None:
        with torch.no_grad():
            assert torch.equal(gm(x), model(x))
    graph = LeafTracer().trace(model)
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    for name, m in model.named_modules():
        if type(m).__module__.startswith("bnnflow.nn") and name:
            owner = name.rsplit(".", 1)[0] if "." in name else ""
            if owner and type(model.get_submodule(owner)).__module__.startswith("bnnflow.nn"):
                continue  # e.g. the SignActivation inside a BinaryConv2d
            assert calls[name] == 1, f"{name} called {calls[name]} times"
    return graph


def count(model: nn.Module, cls: type) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


def output_sizes(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, tuple]:
    """Output shapes of the named submodules for input ``x``."""
    sizes: dict[str, tuple] = {}
    hooks = [
        model.get_submodule(n).register_forward_hook(
            lambda m, i, o, n=n: sizes.__setitem__(n, tuple(o.shape))
        )
        for n in names
    ]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return sizes
