"""Pass: pack binary weights into uint32 words (numerics.md §1).

Bit = 1 where the weight is −1; channel ``c`` of a group is bit ``c % 32`` of word ``c // 32``;
pad bits are 0. ``bconv`` weights ``[O, Cg, KH, KW]`` (±1) become ``[O, KH, KW, Wg]``;
``blinear`` weights ``[O, Cin]`` become ``[O, W]``. Channels marked ``flip`` (packed epilogue
with a negative scale, :mod:`fold_sign`) are negated first.
"""

from __future__ import annotations

import numpy as np

from bnnflow.convert.lgraph import LGraph

WORD = 32


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a boolean ``[..., C]`` (True = bit 1 = −1) into uint32 ``[..., ceil(C/32)]``."""
    bits = np.asarray(bits, dtype=bool)
    c = bits.shape[-1]
    words = -(-c // WORD)
    padded = np.zeros((*bits.shape[:-1], words * WORD), dtype=np.uint64)
    padded[..., :c] = bits
    weights = np.left_shift(np.uint64(1), np.arange(WORD, dtype=np.uint64))
    out = (padded.reshape(*bits.shape[:-1], words, WORD) * weights).sum(axis=-1)
    return out.astype(np.uint32)


def _signed(w: np.ndarray, flip: np.ndarray | None) -> np.ndarray:
    w = w.astype(np.int8)
    if flip is not None:
        w = np.where(flip.reshape(-1, *([1] * (w.ndim - 1))), -w, w)
    return w


def run(graph: LGraph) -> None:
    for node in graph:
        flip = node.attrs.get("flip")
        if node.kind == "bconv":
            w = _signed(node.attrs["weight_sign"], flip).transpose(0, 2, 3, 1)
            node.attrs["packed"] = pack_bits(w < 0)
        elif node.kind == "blinear":
            node.attrs["packed"] = pack_bits(_signed(node.attrs["weight_sign"], flip) < 0)
