"""Max pooling on packed bits (docs/numerics.md §5), the executable spec.

Each bit is a binary value (bit 0 = +1, bit 1 = −1); the pool takes the max of the values over
the ``kernel x kernel`` taps that lie inside the image (padded taps are ignored) — which, on
bits, is the AND. Pad bits are 0 and stay 0.
"""

from __future__ import annotations

import numpy as np

from bnnflow.graph.padding import as_pads
from bnnflow.reference.int8_ops import Padding
from bnnflow.reference.pack import WORD_BITS, bits_to_words, to_pm1, unpack_bits


def maxpool_packed(x: np.ndarray, kernel: int, stride: int, padding: Padding = 0) -> np.ndarray:
    """uint32 ``[N, H, W, words]`` -> ``[N, Ho, Wo, words]``,
    ``Ho = (H + top + bottom − k) // s + 1`` (``padding`` an int or ``(top, left, bottom,
    right)``); needs every side in ``[0, kernel // 2]`` (docs/numerics.md §7), so every window
    holds an in-image tap."""
    top, left, bottom, right = as_pads(padding)
    if not all(0 <= p <= kernel // 2 for p in (top, left, bottom, right)):
        raise ValueError(f"padding must be in [0, kernel // 2] on every side, got {padding}")
    words = x.shape[-1]
    values = to_pm1(unpack_bits(x, words * WORD_BITS))  # every bit, pad bits included
    low = -2  # below −1: a padded tap never wins the max
    values = np.pad(
        values, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=low
    )
    n, hp, wp, c = values.shape
    ho, wo = (hp - kernel) // stride + 1, (wp - kernel) // stride + 1
    best = np.full((n, ho, wo, c), low, dtype=np.int32)
    for i in range(kernel):
        for j in range(kernel):
            tap = values[:, i : i + stride * (ho - 1) + 1 : stride,
                         j : j + stride * (wo - 1) + 1 : stride, :]  # fmt: skip
            best = np.maximum(best, tap)
    return bits_to_words(best < 0)
