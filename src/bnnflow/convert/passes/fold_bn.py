"""Pass: fold BatchNorm (and the weight scale) into a per-channel affine epilogue.

Capture gives every linear producer an output affine ``y = out_a[c]·core + out_b[c]``:

- ``bconv`` / ``blinear``: ``core = clamp?(d)``, ``out_a = α_w`` (the weight scale),
  ``out_b = 0``;
- ``conv`` / ``linear``: ``core`` the bias-free product, ``out_a = 1``, ``out_b = bias``.

An ``affine`` node (eval-mode BN: ``a = γ/σ``, ``b = β − γμ/σ``) whose input is such a producer
read by nothing else folds in: ``out_a ← a·out_a``, ``out_b ← a·out_b + b``; two affines in a
row merge the same way. Other affines stay (a ``requant`` or ``scale_bias`` of their own).
"""

from __future__ import annotations

import numpy as np

from bnnflow.convert.lgraph import AFFINE_PRODUCERS, LGraph


def init_affine(graph: LGraph) -> None:
    """Give every producer its initial ``out_a``, ``out_b`` (idempotent)."""
    for node in graph:
        if node.kind not in AFFINE_PRODUCERS or "out_a" in node.attrs:
            continue
        c = node.channels
        if node.kind in ("bconv", "blinear"):
            node.attrs["out_a"] = node.attrs["alpha"].copy()
            node.attrs["out_b"] = np.zeros(c)
        else:
            node.attrs["out_a"] = np.ones(c)
            bias = node.attrs["bias"]
            node.attrs["out_b"] = np.zeros(c) if bias is None else bias.copy()


def run(graph: LGraph) -> None:
    init_affine(graph)
    for node in graph:
        if node.kind != "affine":
            continue
        src = graph.node(node.inputs[0])
        if graph.only_consumer(src.name) is not node:
            continue
        a, b = node.attrs["a"], node.attrs["b"]
        if src.kind in AFFINE_PRODUCERS:
            src.attrs["out_a"] = a * src.attrs["out_a"]
            src.attrs["out_b"] = a * src.attrs["out_b"] + b
        elif src.kind == "affine":
            src.attrs["b"] = a * src.attrs["b"] + b
            src.attrs["a"] = a * src.attrs["a"]
        else:
            continue
        graph.remove(node, src.name)
