"""Fixed-point arithmetic of the ``int8`` data-flow (docs/numerics.md §3).

Every integer op of the engine rescales with the same primitive,

    rshift_round(v, s) = (v + r) >> s,   r = 2**(s-1) if s > 0 else 0,   >> arithmetic (floor)

that is, round half up. A real multiplier ``m`` becomes ``M / 2**s`` with ``M`` a signed
integer of ``bits`` bits (15 magnitude bits for int16) and the largest ``s <= max_shift`` that
keeps ``|M|`` in range.
"""

from __future__ import annotations

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def rshift_round(v: np.ndarray, s: np.ndarray | int) -> np.ndarray:
    """``(v + r) >> s`` with ``r = 2**(s-1)`` for ``s > 0`` else 0, in int64, elementwise.

    ``v`` is widened to int64; ``s`` broadcasts against ``v`` (per-channel shifts on the last
    axis of NHWC data).
    """
    v = np.asarray(v, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    r = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    return np.right_shift(v + r, s)


def saturate_int8(v: np.ndarray) -> np.ndarray:
    """Clamp to [-128, 127] and cast to int8."""
    return np.clip(v, INT8_MIN, INT8_MAX).astype(np.int8)


def quantize_multiplier(
    real: np.ndarray, bits: int = 16, max_shift: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate each ``real`` multiplier by ``M * 2**-s``.

    Returns ``(M, s)`` as int64 arrays with ``|M| <= 2**(bits-1) - 1`` and ``0 <= s <=
    max_shift``, ``s`` as large as fits (most precision). Multipliers too large to represent
    with ``s = 0`` raise ``ValueError``; zero gives ``M = 0, s = 0``.
    """
    real = np.asarray(real, dtype=np.float64)
    if not np.all(np.isfinite(real)):
        raise ValueError("multiplier is not finite")
    m_max = (1 << (bits - 1)) - 1
    mag = np.abs(real)
    with np.errstate(divide="ignore"):
        # Largest s with round(|real| * 2**s) <= m_max.
        s = np.where(mag > 0, np.floor(np.log2(m_max / np.where(mag > 0, mag, 1.0))), 0)
    s = np.clip(s, 0, max_shift).astype(np.int64)
    M = np.round(real * np.exp2(s)).astype(np.int64)
    # log2 rounding can overshoot by one step at the boundary.
    over = np.abs(M) > m_max
    s = np.where(over & (s > 0), s - 1, s)
    M = np.round(real * np.exp2(s)).astype(np.int64)
    if np.any(np.abs(M) > m_max):
        raise ValueError(f"multiplier {mag.max():.6g} does not fit {bits}-bit fixed point")
    return M, s


def requantize(q: np.ndarray, M: np.ndarray, B: np.ndarray, s: np.ndarray) -> np.ndarray:
    """int8 requantization: ``clamp((M*q + B + r) >> s, -128, 127)`` per channel (last axis)."""
    v = np.asarray(M, np.int64) * np.asarray(q, np.int64) + np.asarray(B, np.int64)
    return saturate_int8(rshift_round(v, s))
