"""Binarisation and bit packing (docs/numerics.md §1, §2), the executable spec.

Binary value +1 is bit 0 and −1 is bit 1. A packed tensor holds, for each of ``groups`` groups
of ``Cg = C / groups`` channels, ``Wg = ceil(Cg / 32)`` uint32 words: channel ``c`` of group
``g`` is bit ``c % 32`` of word ``g * Wg + c // 32`` (little-endian). Pad bits are 0.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 32


def words_per_group(channels: int, groups: int = 1) -> int:
    """``Wg = ceil((channels / groups) / 32)``."""
    _check_groups(channels, groups)
    return -(-(channels // groups) // WORD_BITS)


def packed_words(channels: int, groups: int = 1) -> int:
    """Words per pixel of a packed tensor: ``groups * Wg``."""
    return groups * words_per_group(channels, groups)


def pack_bits(x: np.ndarray, threshold: np.ndarray, groups: int = 1) -> np.ndarray:
    """Binarise and pack along the last axis: bit of channel ``c`` = ``x[..., c] < t[c]``.

    ``x`` is int8 with an int32 ``threshold`` (int8 data-flow) or float32 with a float32 one
    (float data-flow); any numeric pair compares exactly (e.g. int32 ``d`` against int32 ``T``
    in the packed epilogue). Returns uint32 ``[..., groups * Wg]``.
    """
    x = np.asarray(x)
    threshold = np.asarray(threshold)
    channels = x.shape[-1]
    if threshold.shape != (channels,):
        raise ValueError(f"threshold must have shape ({channels},), got {threshold.shape}")
    return bits_to_words(x < threshold, groups)


def bits_to_words(bits: np.ndarray, groups: int = 1) -> np.ndarray:
    """Pack a boolean ``[..., C]`` array (True = bit 1 = −1) into uint32 words per group."""
    bits = np.asarray(bits, dtype=bool)
    channels = bits.shape[-1]
    lead = bits.shape[:-1]
    wg = words_per_group(channels, groups)
    cg = channels // groups
    grouped = bits.reshape((*lead, groups, cg))
    padded = np.zeros((*lead, groups, wg * WORD_BITS), dtype=np.uint64)
    padded[..., :cg] = grouped
    weights = np.left_shift(np.uint64(1), np.arange(WORD_BITS, dtype=np.uint64))
    words = (padded.reshape((*lead, groups, wg, WORD_BITS)) * weights).sum(axis=-1)
    return words.astype(np.uint32).reshape((*lead, groups * wg))


def unpack_bits(words: np.ndarray, channels: int, groups: int = 1) -> np.ndarray:
    """Inverse of :func:`bits_to_words`: uint32 ``[..., groups*Wg]`` -> bool ``[..., C]``."""
    words = np.asarray(words, dtype=np.uint32)
    wg = words_per_group(channels, groups)
    if words.shape[-1] != groups * wg:
        raise ValueError(
            f"packed tensor has {words.shape[-1]} words per pixel, expected {groups * wg} "
            f"for {channels} channels in {groups} groups"
        )
    lead = words.shape[:-1]
    shifts = np.arange(WORD_BITS, dtype=np.uint32)
    bits = (words.reshape((*lead, groups, wg, 1)) >> shifts) & np.uint32(1)
    bits = bits.reshape((*lead, groups, wg * WORD_BITS))[..., : channels // groups]
    return bits.reshape((*lead, channels)).astype(bool)


def to_pm1(bits: np.ndarray) -> np.ndarray:
    """Bits to binary values as int32: bit 0 -> +1, bit 1 -> −1."""
    return 1 - 2 * np.asarray(bits, dtype=np.int32)


def _check_groups(channels: int, groups: int) -> None:
    if groups < 1 or channels < 1 or channels % groups != 0:
        raise ValueError(f"channels={channels} must be a positive multiple of groups={groups}")
