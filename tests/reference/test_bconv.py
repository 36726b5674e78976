"""The binary convolution spec against two independent forms: PyTorch's conv2d on ±1 tensors
(zero padding) and the bitwise formula K − 2·popcount(x xor w) with the padding terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.reference import bconv
from bnnflow.reference.pack import bits_to_words, to_pm1


def _popcount(v: int) -> int:
    return bin(v).count("1")


def bitwise_d(x, w, cin, groups, stride, padding, pad_mode):
    """docs/numerics.md §4 verbatim, one output at a time."""
    n, h, wd, _ = x.shape
    cout, kh, kw, wg = w.shape
    cg, cout_g = cin // groups, cout // groups
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    d = np.zeros((n, ho, wo, cout), np.int64)
    for b, oy, ox, o in np.ndindex(n, ho, wo, cout):
        g = o // cout_g
        total = 0
        for i, j in np.ndindex(kh, kw):
            iy, ix = oy * stride - padding + i, ox * stride - padding + j
            wpop = sum(_popcount(int(v)) for v in w[o, i, j])
            if 0 <= iy < h and 0 <= ix < wd:
                xw = x[b, iy, ix, g * wg : (g + 1) * wg]
                total += cg - 2 * sum(
                    _popcount(int(a) ^ int(c)) for a, c in zip(xw, w[o, i, j], strict=True)
                )
            elif pad_mode == "one":
                total += cg - 2 * wpop
        d[b, oy, ox, o] = total
    return d


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    groups=st.integers(1, 3),
    cg=st.integers(1, 40),
    cout_g=st.integers(1, 4),
    k=st.sampled_from([1, 2, 3, 5]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    pad_mode=st.sampled_from(["zero", "one"]),
)
def test_matches_bitwise_formula_and_torch(seed, groups, cg, cout_g, k, stride, padding, pad_mode):
    rng = np.random.default_rng(seed)
    cin, cout = cg * groups, cout_g * groups
    h = w_ = 5
    xbits = rng.random((2, h, w_, cin)) < 0.5
    wbits = rng.random((cout, k, k, cg)) < 0.5
    x, w = bits_to_words(xbits, groups), bits_to_words(wbits)
    d = bconv.bconv2d_sum(
        x, w, cin=cin, groups=groups, stride=stride, padding=padding, pad_mode=pad_mode
    )
    np.testing.assert_array_equal(d, bitwise_d(x, w, cin, groups, stride, padding, pad_mode))
    if pad_mode == "zero":
        xt = torch.from_numpy(to_pm1(xbits).astype(np.float64)).permute(0, 3, 1, 2)
        wt = torch.from_numpy(to_pm1(wbits).astype(np.float64)).permute(0, 3, 1, 2)
        y = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=padding, groups=groups)
        np.testing.assert_array_equal(d, y.permute(0, 2, 3, 1).numpy().astype(np.int32))


def test_epilogues():
    d = np.array([[-300, -5, 0, 7, 400]], np.int32)
    c = d.shape[1]
    np.testing.assert_array_equal(bconv.apply_epilogue(d, clamp=(0, 10)), [[0, 0, 0, 7, 10]])
    f = bconv.apply_epilogue(
        d, "float", scale=np.full(c, 0.5, np.float32), bias=np.ones(c, np.float32)
    )
    assert f.dtype == np.float32 and f.tolist() == [[-149.0, -1.5, 1.0, 4.5, 201.0]]
    q = bconv.apply_epilogue(
        d, "int8", multiplier=np.full(c, 3, np.int16), offset=np.zeros(c, np.int32),
        shift=np.ones(c, np.int32),
    )  # fmt: skip
    # clamp to [-128, 127], then (3q + 1) >> 1, saturated.
    assert q.dtype == np.int8 and q.tolist() == [[-128, -7, 0, 11, 127]]
    t = np.array([0, 0, 0, np.iinfo(np.int32).max, np.iinfo(np.int32).min], np.int32)
    p = bconv.apply_epilogue(d, "packed", threshold=t)
    assert p.dtype == np.uint32 and p.tolist() == [[0b01011]]


def test_rejects_bad_modes():
    x = np.zeros((1, 3, 3, 1), np.uint32)
    w = np.zeros((1, 3, 3, 1), np.uint32)
    with pytest.raises(ValueError, match="pad_mode"):
        bconv.bconv2d(x, w, cin=8, pad_mode="reflect")
    with pytest.raises(ValueError, match="valid"):
        bconv.bconv2d(x, w, cin=8, padding=1, pad_mode="valid")
    with pytest.raises(ValueError, match="epilogue"):
        bconv.apply_epilogue(np.zeros(2, np.int32), "int4")
