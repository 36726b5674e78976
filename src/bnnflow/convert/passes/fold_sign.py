"""Pass: fold a sign into the binary layer that produces its input (packed epilogue).

When a ``bconv`` / ``blinear`` output ``y = out_a·clamp(d) + out_b`` (BN already folded) is
read only by a ``sign`` with per-channel threshold ``t`` (bit 1 iff ``y < t``), the layer
writes packed bits directly: ``bit = d < T[c]`` (numerics.md §4):

- ``out_a > 0``: ``y < t ⇔ d < (t − b)/a``, so ``T = ceil((t − b)/a)``;
- ``out_a < 0``: the channel's weights are flipped (``d → −d``), then ``T = ceil((t − b)/|a|)``;
- ``out_a = 0``: the bit is the constant ``b < t``;
- a ``T`` outside the reachable range ``[lo, hi]`` of the (clamped) ``d`` is a constant:
  ``T ≤ lo`` → ``INT32_MIN`` (bit always 0, +1), ``T > hi`` → ``INT32_MAX`` (always 1, −1).

The clamp itself is not needed: for ``lo < T ≤ hi``, ``clamp(d) < T ⇔ d < T``. The sign node
goes; its readers read the layer's packed output. Not folded when the layer's output has
other readers, or the sign's readers are binary layers with differing group counts.
"""

from __future__ import annotations

import math

import numpy as np

from bnnflow.convert.lgraph import LGraph, LNode

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def reach(node: LNode) -> tuple[int, int]:
    """``[lo, hi]`` that ``clamp?(d)`` of a binary layer can take (before any flip)."""
    if node.kind == "bconv":
        kh, kw = node.attrs["kernel"]
        k = kh * kw * node.attrs["weight_sign"].shape[1]
    else:
        k = node.attrs["weight_sign"].shape[1]
    lo, hi = -k, k
    if node.attrs["clip"]:
        lo, hi = max(lo, -128), min(hi, 127)
    if node.attrs.get("clamp_lo") is not None:
        lo = max(lo, int(node.attrs["clamp_lo"]))
        hi = max(hi, lo)
    return lo, hi


def thresholds(a: np.ndarray, b: np.ndarray, t: np.ndarray, lo: int, hi: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(T int64, flip bool)`` per channel for ``bit = a·clamp(d, lo, hi) + b < t``.

    ``T = ceil(v)`` is then checked against the comparison itself (evaluated in float64 on the
    integers next to it) and moved by one where ``v`` lost precision (tiny ``a``, subnormal
    ``t``), so the bits equal ``a·d + b < t`` for every reachable ``d``.
    """
    c = a.shape[0]
    T = np.zeros(c, np.int64)
    flip = a < 0
    for ch in range(c):
        if a[ch] == 0:
            T[ch] = INT32_MAX if b[ch] < t[ch] else INT32_MIN
            continue
        sgn = -1 if flip[ch] else 1
        lo_c, hi_c = (-hi, -lo) if flip[ch] else (lo, hi)

        def bit(z: int, ch: int = ch, sgn: int = sgn) -> bool:
            return bool(a[ch] * (sgn * z) + b[ch] < t[ch])

        v = (t[ch] - b[ch]) / abs(a[ch])
        z = int(min(max(math.ceil(v), lo_c), hi_c + 1)) if math.isfinite(v) else \
            (hi_c + 1 if v > 0 else lo_c)
        while z > lo_c and not bit(z - 1):
            z -= 1
        while z <= hi_c and bit(z):
            z += 1
        T[ch] = INT32_MIN if z <= lo_c else INT32_MAX if z > hi_c else z
    return T, flip


def binary_groups(graph: LGraph, sign: LNode) -> int | None:
    """The group count all binary readers of ``sign`` pack for (through max pools, which
    keep the packing), or ``None`` if they disagree or one is not a binary layer."""
    groups = set()
    for user in graph.consumers(sign.name):
        if user.kind == "bconv":
            groups.add(user.attrs["groups"])
        elif user.kind == "blinear":
            groups.add(1)
        elif user.kind in ("maxpool", "maxpool_packed"):
            groups.add(binary_groups(graph, user))
        else:
            return None
    if len(groups) != 1 or None in groups or graph.is_output(sign.name):
        return None
    return groups.pop()


def run(graph: LGraph) -> None:
    for sign in graph:
        if sign.kind != "sign":
            continue
        src = graph.node(sign.inputs[0])
        if src.kind not in ("bconv", "blinear") or graph.only_consumer(src.name) is not sign:
            continue
        if src.attrs.get("epilogue") is not None:
            continue
        groups = binary_groups(graph, sign)
        if groups is None:
            continue
        T, flip = thresholds(src.attrs["out_a"], src.attrs["out_b"], sign.attrs["t"],
                             *reach(src))
        src.attrs.update(epilogue="packed", T=T, flip=flip, out_groups=groups)
        graph.remove(sign, src.name)
