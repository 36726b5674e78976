"""Hand-built LGraphs for pass tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnnflow.convert.lgraph import LGraph, LNode


def node(name: str, kind: str, inputs: list[str], shape: tuple[int, ...], **attrs: Any) -> LNode:
    return LNode(name, kind, inputs, name, shape, {"op": kind, **attrs})


def bconv(name: str, src: str, cout: int, cin: int, k: int = 3, alpha: Any = None,
          clip: bool = False, groups: int = 1, hw: int = 4, seed: int = 0) -> LNode:
    rng = np.random.default_rng(seed)
    w = np.where(rng.random((cout, cin // groups, k, k)) < 0.5, -1, 1).astype(np.int8)
    a = np.ones(cout) if alpha is None else np.asarray(alpha, np.float64)
    return node(name, "bconv", [src], (cout, hw, hw), weight_sign=w, alpha=a, stride=1,
                padding=k // 2, pad_mode="zero", groups=groups, clip=clip, kernel=(k, k),
                has_quantizer=True)


def graph(*nodes: LNode, output: str | None = None) -> LGraph:
    return LGraph(list(nodes), nodes[0].name, output or nodes[-1].name)
