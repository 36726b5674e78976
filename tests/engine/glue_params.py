"""Random inputs and in-range fixed-point parameters for the glue kernel tests.

Parameters are drawn so that the int32 intermediates provably cannot overflow (the bindings
reject anything else): |M·q| < 2^22, |B| < 2^24, r < 2^30.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

seeds = st.integers(0, 2**32 - 1)
channels = st.integers(1, 70)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def int8(r: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return r.integers(-128, 128, size=shape, dtype=np.int8)


def uint8(r: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return r.integers(0, 256, size=shape, dtype=np.uint8)


def f32(r: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return r.standard_normal(shape).astype(np.float32)


def conv_int8_operands(
    r: np.random.Generator, xs: tuple[int, ...], ws: tuple[int, ...], unsigned: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (uint8 or int8, shape xs), a zero point per input channel in x's range, int8 weights
    (shape ws, ws[0] outputs) and an int32 bias: the operands of conv2d_int8 / dwconv2d_int8."""
    x = uint8(r, xs) if unsigned else int8(r, xs)
    lo, hi = (0, 256) if unsigned else (-128, 128)
    zp = r.integers(lo, hi, size=xs[-1]).astype(np.int32)
    w = int8(r, ws)
    bias = r.integers(-(2**20), 2**20, size=ws[0]).astype(np.int32)
    return x, zp, w, bias


def shifts(r: np.random.Generator, c: int, hi: int = 30) -> np.ndarray:
    return r.integers(0, hi + 1, size=c).astype(np.int32)


def mult16(r: np.random.Generator, c: int) -> np.ndarray:
    return r.integers(-(2**15), 2**15, size=c).astype(np.int16)


def bias_for(r: np.random.Generator, s: np.ndarray, extra_bits: int = 8) -> np.ndarray:
    """A bias of about the scale of ``2^(s + extra_bits)`` (so outputs are not all saturated),
    capped at 2^24."""
    bound = np.minimum(np.left_shift(np.int64(1), np.minimum(s + extra_bits, 24)), 2**24)
    return (r.integers(-(2**62), 2**62, size=s.shape) % (2 * bound) - bound).astype(np.int32)
