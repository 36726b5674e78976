"""pack_bits on every ISA and thread count against the numpy reference (docs/numerics.md §2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import pack as ref

from .binary_cases import seeds
from .op_check import check_op

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(
    seed=seeds,
    pixels=st.integers(1, 70),
    groups=st.sampled_from([1, 2, 3, 4]),
    cg=st.integers(1, 100),
    dtype=st.sampled_from(["int8", "float32"]),
)
def test_pack_matches_reference(seed, pixels, groups, cg, dtype):
    rng = np.random.default_rng(seed)
    c = groups * cg
    if dtype == "int8":
        x = rng.integers(-128, 128, (pixels, c), dtype=np.int8)
        # Thresholds past both ends of int8 exercise the always-0 / always-1 channels.
        t = rng.integers(-200, 200, c).astype(np.int32)
    else:
        x = rng.normal(0, 1, (pixels, c)).astype(np.float32)
        t = rng.normal(0, 0.5, c).astype(np.float32)
        x[rng.random(x.shape) < 0.05] = np.nan
        x[:, ::7] = t[::7]  # ties: x == t gives bit 0
    check_op(
        lambda isa, threads, out: _engine.pack_bits(
            x, t, groups, isa=isa, threads=threads, out=out
        ),
        lambda: ref.pack_bits(x, t, groups),
    )


def test_pack_keeps_leading_axes():
    x = np.zeros((2, 3, 4, 64), np.int8)
    x[1, 2, 3, 33] = -5
    out = _engine.pack_bits(x, np.zeros(64, np.int32), 2)
    assert out.shape == (2, 3, 4, 2) and out.dtype == np.uint32
    assert out[1, 2, 3, 1] == 1 << 1 and out.sum() == 2


def test_sign_convention():
    """+1 (x >= t) is bit 0, −1 is bit 1; sign(0) = +1."""
    x = np.array([[-1, 0, 1, -128, 127]], np.int8)
    out = _engine.pack_bits(x, np.zeros(5, np.int32))
    assert out.tolist() == [[0b01001]]


@pytest.mark.parametrize(
    ("x", "t", "groups", "match"),
    [
        (np.zeros((2, 4), np.int16), np.zeros(4, np.int32), 1, "x: expected dtype int8 or float32"),
        (np.zeros((2, 4), np.int8), np.zeros(4, np.float32), 1, "threshold: expected dtype"),
        (np.zeros((2, 4), np.int8), np.zeros(3, np.int32), 1, "threshold: shape"),
        (np.zeros((2, 6), np.int8), np.zeros(6, np.int32), 4, "multiple of groups"),
        (np.zeros((4, 2), np.int8).T, np.zeros(4, np.int32), 1, "x: must be C-contiguous"),
        (np.zeros((2, 4), np.float32), np.zeros(4, np.int32), 1, "threshold: expected dtype"),
    ],
)
def test_pack_rejects_bad_arguments(x, t, groups, match):
    with pytest.raises(ValueError, match=match):
        _engine.pack_bits(x, t, groups)


def test_bad_isa_and_threads():
    x, t = np.zeros((1, 4), np.int8), np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="isa"):
        _engine.pack_bits(x, t, isa="sse9")
    with pytest.raises(ValueError, match="threads"):
        _engine.pack_bits(x, t, threads=0)
