"""bconv2d on every ISA and thread count against the numpy reference (docs/numerics.md §4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import bconv as ref

from .binary_cases import epilogue_args, epilogue_kinds, random_packed, seeds
from .op_check import ISAS, check_op

SETTINGS = settings(max_examples=50, deadline=None)


def run_case(seed, n, h, w, cg, groups, cout_g, kh, kw, stride, padding, pad_mode, kind, clamp):
    rng = np.random.default_rng(seed)
    cin, cout = cg * groups, cout_g * groups
    x = random_packed(rng, (n, h, w), cin, groups)
    wts = random_packed(rng, (cout, kh, kw), cg, 1)
    ep = epilogue_args(rng, kind, cout, kh * kw * cg, clamp)
    geo = {"stride": stride, "padding": padding, "pad_mode": pad_mode}
    prepared = {isa: _engine.prepare_bconv_weights(wts, cin, groups, isa=isa) for isa in ISAS}
    check_op(
        lambda isa, threads, out: _engine.bconv2d(
            x, prepared[isa], **geo, **ep, isa=isa, threads=threads, out=out
        ),
        lambda: ref.bconv2d(x, wts, cin=cin, groups=groups, **geo, **ep),
    )


@SETTINGS
@given(
    seed=seeds,
    n=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 11),
    cg=st.integers(1, 80),
    groups=st.sampled_from([1, 2, 3]),
    cout_g=st.integers(1, 70),
    k=st.sampled_from([(1, 1), (3, 3), (5, 5), (2, 3), (7, 7)]),
    stride=st.integers(1, 3),
    padding=st.integers(0, 3),
    pad_mode=st.sampled_from(["zero", "one", "valid"]),
    kind=epilogue_kinds,
    clamp=st.booleans(),
)
def test_bconv_matches_reference(
    seed, n, h, w, cg, groups, cout_g, k, stride, padding, pad_mode, kind, clamp
):
    kh, kw = k
    if pad_mode == "valid":
        padding = 0
    padding = min(padding, kh - 1, kw - 1)
    h, w = max(h, kh - 2 * padding), max(w, kw - 2 * padding)
    run_case(seed, n, h, w, cg, groups, cout_g, kh, kw, stride, padding, pad_mode, kind, clamp)


@pytest.mark.parametrize("kind", ["int32", "float", "int8", "packed"])
@pytest.mark.parametrize("pad_mode", ["zero", "one"])
def test_resnet_like_layer(kind, pad_mode):
    """A 3x3 64->64 layer at 10x10, stride 1 and 2: full SIMD blocks, border + interior."""
    for stride in (1, 2):
        run_case(7, 2, 10, 10, 64, 1, 64, 3, 3, stride, 1, pad_mode, kind, clamp=False)


def test_zero_and_one_padding_differ_by_the_weight_term():
    """Corner output of an all-(+1) input: 'one' counts the 5 padded taps as +1 inputs."""
    x = np.zeros((1, 3, 3, 1), np.uint32)
    w = np.zeros((1, 3, 3, 1), np.uint32)  # all weights +1, cin = 4
    prepared = _engine.prepare_bconv_weights(w, 4)
    zero = _engine.bconv2d(x, prepared, padding=1, pad_mode="zero")
    one = _engine.bconv2d(x, prepared, padding=1, pad_mode="one")
    assert zero[0, 0, 0, 0] == 4 * 4 and one[0, 0, 0, 0] == 9 * 4
    assert zero[0, 1, 1, 0] == one[0, 1, 1, 0] == 9 * 4


def test_weights_object():
    w = np.zeros((8, 3, 3, 2), np.uint32)
    p = _engine.prepare_bconv_weights(w, 80, 2, isa="scalar")
    assert (p.cout, p.kh, p.kw, p.cin, p.groups, p.isa) == (8, 3, 3, 80, 2, "scalar")
    assert "scalar" in p.kernel and "BconvWeights(" in repr(p)


def _prepared():
    return _engine.prepare_bconv_weights(np.zeros((4, 3, 3, 1), np.uint32), 32, isa="scalar")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": np.zeros((1, 5, 5, 2), np.uint32)}, "x: shape"),
        ({"x": np.zeros((1, 5, 5, 1), np.int32)}, "x: expected dtype uint32, got int32"),
        ({"x": np.zeros((5, 5, 1), np.uint32)}, "x: expected 4 dimensions"),
        ({"x": np.zeros((1, 2, 2, 1), np.uint32)}, "smaller than"),
        ({"pad_mode": "reflect"}, "pad_mode"),
        ({"pad_mode": "valid", "padding": 1}, "valid"),
        ({"stride": 0}, "stride"),
        ({"epilogue": "int4"}, "epilogue must be"),
        ({"epilogue": "float", "scale": np.ones(4, np.float32)}, "needs bias"),
        ({"epilogue": "float", "scale": np.ones(3, np.float32),
          "bias": np.ones(4, np.float32)}, r"scale: expected shape \(4,\)"),
        ({"epilogue": "float", "scale": np.ones(4, np.float64),
          "bias": np.ones(4, np.float32)}, "scale: expected dtype float32"),
        ({"scale": np.ones(4, np.float32)}, "scale is only used by epilogue 'float'"),
        ({"epilogue": "int8", "multiplier": np.ones(4, np.int16), "offset": np.ones(4, np.int32),
          "shift": np.full(4, 31, np.int32)}, "outside"),
        ({"epilogue": "packed", "threshold": np.zeros(4, np.int32), "out_groups": 3},
         "out_groups"),
        ({"clamp": (3, 1)}, "lo <= hi"),
        ({"isa": "avx2" if "avx2" in ISAS else "neon"}, "prepared for 'scalar'|not supported"),
        ({"threads": 0}, "threads"),
    ],
)  # fmt: skip
def test_bconv_rejects_bad_arguments(kwargs, match):
    x = kwargs.pop("x", np.zeros((1, 5, 5, 1), np.uint32))
    with pytest.raises(ValueError, match=match):
        _engine.bconv2d(x, _prepared(), **kwargs)


@pytest.mark.parametrize(
    ("shape", "cin", "groups", "match"),
    [
        ((4, 3, 3, 1), 33, 1, "weights: shape"),
        ((4, 3, 3, 1), 30, 4, "multiple of groups"),
        ((6, 3, 3, 1), 32, 4, "output channels"),
        ((4, 3, 3), 32, 1, "weights: expected 4 dimensions"),
        ((4, 16, 16, 8), 256, 1, "65536"),
    ],
)
def test_prepare_rejects_bad_arguments(shape, cin, groups, match):
    with pytest.raises(ValueError, match=match):
        _engine.prepare_bconv_weights(np.zeros(shape, np.uint32), cin, groups)


def test_xor_popcount_ceiling():
    rows = _engine.xor_popcount_ceiling("scalar", words=256, passes=2, repeats=1)
    assert rows and all(r["gbmacs"] > 0 and r["isa"] == "scalar" for r in rows)
    for isa in ISAS:
        assert {r["isa"] for r in _engine.xor_popcount_ceiling(isa, passes=1, repeats=1)} == {isa}
    with pytest.raises(ValueError, match="multiple of 128"):
        _engine.xor_popcount_ceiling("scalar", words=100)


def test_int8_epilogue_with_wide_intermediates():
    """Offsets near the int32 limit take the 64-bit requantisation path; still exact."""
    rng = np.random.default_rng(3)
    x = random_packed(rng, (1, 6, 6), 64, 1)
    w = random_packed(rng, (16, 3, 3), 64, 1)
    ep = {
        "epilogue": "int8",
        "multiplier": rng.integers(-(2**15) + 1, 2**15, 16).astype(np.int16),
        "offset": np.full(16, 2**31 - 2**20, np.int32) * rng.choice([-1, 1], 16).astype(np.int32),
        "shift": np.full(16, 30, np.int32),
    }
    prepared = {isa: _engine.prepare_bconv_weights(w, 64, isa=isa) for isa in ISAS}
    check_op(
        lambda isa, threads, out: _engine.bconv2d(
            x, prepared[isa], padding=1, **ep, isa=isa, threads=threads, out=out
        ),
        lambda: ref.bconv2d(x, w, cin=64, padding=1, **ep),
    )
