"""Choosing fixed-point multipliers, offsets and shifts (docs/conversion.md, "Choosing s").

Every integer rescale of the int8 data-flow computes, per output channel,

    out = saturate(rshift_round(Σ_i M_i·x_i + B, s)),     M_i ≈ m_i·2^s,  B ≈ b·2^s

for real multipliers ``m_i`` and a real offset ``b`` (in output units). :func:`choose` picks,
per channel, the largest ``s ≤ max_shift`` such that every ``|M_i|`` fits ``bits`` signed bits,
``B`` fits the accumulator's width (its dtype: int32, int64 for ``requant32``) **and** the
intermediate cannot overflow the op's accumulator for any input the op accepts —
the rule the validator checks, :func:`bnnflow.graph.fixedpoint.overflowing_channels` (int8
inputs and an int32 intermediate by default; every int32 input and an int64 intermediate for
``requant32``). A smaller ``s`` costs precision, never correctness.

An offset so large that the output saturates whatever the *reachable* inputs (``|x_i| ≤
in_max_i``) is first clamped to ``±(Σ_i |m_i|·in_max_i + 256)``: on those inputs the output
stays saturated to the same side, and the intermediate stays small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bnnflow.graph.fixedpoint import INT8_IN_INT32, Accumulator, overflowing_channels
from bnnflow.reference.fixedpoint import quantize_multiplier


def _round_half_up(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5)


def choose(
    mults: Sequence[np.ndarray],
    offset: np.ndarray,
    in_max: Sequence[np.ndarray | float],
    *,
    bits: int = 16,
    max_shift: int | np.ndarray = 30,
    acc: Accumulator = INT8_IN_INT32,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per-channel ``([M_i], B, s)`` (int64 arrays) for real ``mults`` and ``offset``.

    Args:
        mults: one real multiplier array ``[C]`` per input.
        offset: real offset ``[C]`` in output units.
        in_max: bound on ``|x_i|`` over the inputs the model can produce (scalar or ``[C]``):
            clamps the offset (above).
        bits: signed width of each ``M_i`` (16: int16, 32: int32).
        max_shift: largest shift (30 for int32 intermediates, 62 for int64), or one per
            channel.
        acc: the op's accumulator and the input range the overflow rule covers
            (:data:`~bnnflow.graph.fixedpoint.INT32_IN_INT64` for requant32).

    Raises:
        ValueError: a multiplier too large for ``bits`` even with ``s = 0``, or no shift keeps
            the intermediate in range.
    """
    ms = [np.atleast_1d(np.asarray(m, np.float64)) for m in mults]
    c = max(m.shape[0] for m in ms)
    ms = [np.broadcast_to(m, (c,)).copy() for m in ms]
    maxes = [np.broadcast_to(np.asarray(x, np.float64), (c,)) for x in in_max]
    reach = sum(np.abs(m) * x for m, x in zip(ms, maxes, strict=True))
    b = np.clip(np.broadcast_to(np.asarray(offset, np.float64), (c,)), -(reach + 256), reach + 256)
    s = np.broadcast_to(np.asarray(max_shift, np.int64), (c,)).copy()
    top = int(s.max())
    m_max = (1 << (bits - 1)) - 1
    for m in ms:
        big = np.flatnonzero(~(np.abs(m) < m_max + 0.5))  # NaN counts as too big
        if big.size:
            ch = int(big[0])
            raise ValueError(f"channel {ch}: multiplier {m[ch]:.6g} does not fit {bits}-bit "
                             "fixed point even with shift 0")
    for m in ms:
        nz = m != 0
        if np.any(nz):
            _, sm = quantize_multiplier(m[nz], bits=bits, max_shift=top)
            s[nz] = np.minimum(s[nz], sm)
    b_lo, b_hi = acc.limits  # B is stored with the accumulator's width (int32 / int64)
    out_m = [np.zeros(c, np.int64) for _ in ms]
    out_b = np.zeros(c, np.int64)
    for ch in range(c):
        for sc in range(int(s[ch]), -1, -1):
            Ms = [int(_round_half_up(m[ch] * 2.0**sc)) for m in ms]
            B = int(_round_half_up(b[ch] * 2.0**sc))
            if all(abs(M) <= m_max for M in Ms) and b_lo <= B <= b_hi and \
                    overflowing_channels(Ms, B, sc, acc).size == 0:
                for i, M in enumerate(Ms):
                    out_m[i][ch] = M
                out_b[ch], s[ch] = B, sc
                break
        else:
            raise ValueError(f"channel {ch}: no shift keeps the int{acc.bits} intermediate in "
                             f"range for inputs in {list(acc.input_range)} (multipliers "
                             f"{[float(m[ch]) for m in ms]}, offset {float(b[ch]):.6g})")
    return out_m, out_b, s
