"""Random inputs and epilogue arguments shared by the binary-kernel engine tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from bnnflow.reference.pack import pack_bits

EPILOGUES = ("int32", "float", "int8", "packed")


def random_packed(rng: np.random.Generator, lead: tuple[int, ...], channels: int, groups: int):
    """Packed activations/weights with valid (zero) pad bits, from random signs."""
    x = rng.integers(-128, 128, size=(*lead, channels), dtype=np.int8)
    return pack_bits(x, np.zeros(channels, np.int32), groups)


def epilogue_args(rng: np.random.Generator, kind: str, cout: int, k: int, clamp: bool) -> dict:
    """Keyword arguments of one epilogue for ``cout`` channels and sums in ``[-k, k]``."""
    args: dict = {"epilogue": kind}
    if clamp:
        lo = int(rng.integers(-k, 1))
        args["clamp"] = (lo, int(rng.integers(lo, k + 1)))
    if kind == "float":
        args["scale"] = rng.normal(0, 0.1, cout).astype(np.float32)
        args["bias"] = rng.normal(0, 1, cout).astype(np.float32)
    elif kind == "int8":
        args["multiplier"] = rng.integers(-(2**15) + 1, 2**15, cout).astype(np.int16)
        args["shift"] = rng.integers(0, 31, cout).astype(np.int32)
        args["offset"] = rng.integers(-(2**20), 2**20, cout).astype(np.int32)
    elif kind == "packed":
        t = rng.integers(-k, k + 1, cout).astype(np.int32)
        special = rng.random(cout)
        t[special < 0.1] = np.iinfo(np.int32).min
        t[special > 0.9] = np.iinfo(np.int32).max
        args["threshold"] = t
        divisors = [g for g in (1, 2, 3, 4) if cout % g == 0]
        args["out_groups"] = int(rng.choice(divisors))
    return args


seeds = st.integers(0, 2**32 - 1)
epilogue_kinds = st.sampled_from(EPILOGUES)
