"""Pass: fuse a ReLU that directly follows a binary layer into its epilogue clamp.

``relu(clamp?(d)·α) = clamp(d, lo=0)·α`` when the weight scale ``α ≥ 0`` (QuickNet's ReLU
between the binary conv and its BN): the binary layer gets ``clamp_lo = 0`` (numerics.md §4)
and the ReLU node goes. A ReLU whose input has other readers, or with some ``α < 0``, stays.
"""

from __future__ import annotations

import numpy as np

from bnnflow.convert.lgraph import LGraph


def run(graph: LGraph) -> None:
    for node in graph:
        if node.kind not in ("bconv", "blinear"):
            continue
        user = graph.only_consumer(node.name)
        if user is None or user.kind != "pwl" or not user.attrs.get("relu"):
            continue
        if np.any(node.attrs["alpha"] < 0):
            continue
        node.attrs["clamp_lo"] = 0
        graph.remove(user, node.name)
