"""Asymmetric ``padding`` ``(top, left, bottom, right)`` in every windowed reference op,
against one independent form: a loop over output pixels that computes each tap's input
coordinate ``(y·s − top + i, x·s − left + j)`` and treats a tap outside the image as padding
(docs/format.md, Padding); and TensorFlow's SAME rule (``bnnflow.graph.padding``) against its
defining properties (TensorFlow is not installed here)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.graph.padding import (
    as_pads,
    padding_attr,
    same_padding_1d,
    tf_same_padding,
)
from bnnflow.reference import bconv, float_ops, int8_ops, pool_packed
from bnnflow.reference.pack import bits_to_words, to_pm1, unpack_bits

seeds = st.integers(0, 2**32 - 1)


@st.composite
def geometry(draw, max_pad: int | None = None, pool: bool = False):
    """(h, w, k, stride, pads): a kernel that fits, pads per side (≤ k/2 for pools)."""
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    hi = k // 2 if pool else (max_pad if max_pad is not None else 3)
    pads = tuple(draw(st.integers(0, hi)) for _ in range(4))
    top, left, bottom, right = pads
    h = draw(st.integers(max(1, k - top - bottom), 7))
    w = draw(st.integers(max(1, k - left - right), 7))
    return h, w, k, s, pads


def loop_window(x: np.ndarray, k: int, s: int, pads, tap_fn: Callable, init) -> np.ndarray:
    """``out[n, y, x] = fold(tap_fn(acc, value or None, i, j))`` over the k·k taps of each
    output pixel; ``value`` is ``x[n, r, c]`` (a channel vector) or None for a padded tap."""
    n, h, w = x.shape[:3]
    top, left, bottom, right = pads
    ho, wo = (h + top + bottom - k) // s + 1, (w + left + right - k) // s + 1
    rows = []
    for b, oy, ox in np.ndindex(n, ho, wo):
        acc = init()
        for i, j in np.ndindex(k, k):
            r, c = oy * s - top + i, ox * s - left + j
            inside = 0 <= r < h and 0 <= c < w
            acc = tap_fn(acc, x[b, r, c] if inside else None, i, j)
        rows.append(acc)
    return np.array(rows).reshape(n, ho, wo, -1)


@settings(max_examples=25, deadline=None)
@given(geo=geometry(), seed=seeds)
def test_conv_ops_equal_loops(geo, seed):
    h, w, k, s, pads = geo
    rng = np.random.default_rng(seed)
    c, cout = 3, 4
    xf = rng.standard_normal((2, h, w, c)).astype(np.float32)
    wf = rng.standard_normal((cout, k, k, c)).astype(np.float32)
    bf = rng.standard_normal(cout).astype(np.float32)
    want = loop_window(xf.astype(np.float64), k, s, pads,
                       lambda a, v, i, j: a if v is None else a + wf[:, i, j].astype(float) @ v,
                       lambda: bf.astype(np.float64))
    got = float_ops.conv2d_f32(xf, wf, bf, stride=s, padding=list(pads))
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5, atol=1e-5)

    xq = rng.integers(0, 256, (2, h, w, c)).astype(np.uint8)
    wq = rng.integers(-128, 128, (cout, k, k, c)).astype(np.int8)
    bq = rng.integers(-1000, 1000, cout).astype(np.int32)
    zp = rng.integers(0, 256, c).astype(np.int32)
    d = xq.astype(np.int64) - zp
    want = loop_window(d, k, s, pads,
                       lambda a, v, i, j: a if v is None else a + wq[:, i, j].astype(int) @ v,
                       lambda: bq.astype(np.int64))
    np.testing.assert_array_equal(int8_ops.conv2d_int8(xq, wq, bq, zp, s, list(pads)), want)

    m = 2
    wd = rng.integers(-128, 128, (c * m, k, k)).astype(np.int8)
    bd = rng.integers(-1000, 1000, c * m).astype(np.int32)
    want = loop_window(d, k, s, pads,
                       lambda a, v, i, j: a if v is None else a + wd[:, i, j] * np.repeat(v, m),
                       lambda: bd.astype(np.int64))
    np.testing.assert_array_equal(int8_ops.dwconv2d_int8(xq, wd, bd, zp, s, list(pads)), want)


@settings(max_examples=25, deadline=None)
@given(geo=geometry(pool=True), seed=seeds)
def test_pools_equal_loops(geo, seed):
    h, w, k, s, pads = geo
    rng = np.random.default_rng(seed)
    x8 = rng.integers(-128, 128, (2, h, w, 5)).astype(np.int8)
    xf = rng.standard_normal((2, h, w, 5)).astype(np.float32)

    def fold_max(a, v, i, j):
        return a if v is None else np.maximum(a, v)

    def fold_sum(a, v, i, j):
        return a if v is None else a + v

    low = lambda: np.full(5, -np.inf)  # noqa: E731
    zero = lambda: np.zeros(5)  # noqa: E731
    np.testing.assert_array_equal(int8_ops.maxpool_int8(x8, k, s, list(pads)),
                                  loop_window(x8, k, s, pads, fold_max, low))
    np.testing.assert_array_equal(int8_ops.sumpool_int8(x8, k, s, list(pads)),
                                  loop_window(x8.astype(int), k, s, pads, fold_sum, zero))
    np.testing.assert_array_equal(float_ops.maxpool_f32(xf, k, s, list(pads)),
                                  loop_window(xf, k, s, pads, fold_max, low))
    # count_include_pad: the divisor is k² whatever the padding
    avg = loop_window(xf.astype(np.float64), k, s, pads, fold_sum, zero) / (k * k)
    np.testing.assert_array_equal(float_ops.avgpool_f32(xf, k, s, list(pads)),
                                  avg.astype(np.float32))
    bits = rng.random((2, h, w, 40)) < 0.5
    packed = bits_to_words(bits)
    want = loop_window(to_pm1(bits), k, s, pads, fold_max, lambda: np.full(40, -2)) < 0
    got = unpack_bits(pool_packed.maxpool_packed(packed, k, s, list(pads)), 40)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["zero", "one"])
@settings(max_examples=20, deadline=None)
@given(geo=geometry(), groups=st.integers(1, 2), seed=seeds)
def test_bconv_equals_loops(mode, geo, groups, seed):
    h, w, k, s, pads = geo
    rng = np.random.default_rng(seed)
    cin, cout = 6 * groups, 2 * groups
    cg, cout_g = cin // groups, cout // groups
    xbits = rng.random((2, h, w, cin)) < 0.5
    wbits = rng.random((cout, k, k, cg)) < 0.5
    a, wv = to_pm1(xbits), to_pm1(wbits)
    pad_value = 1 if mode == "one" else 0

    def fold(acc, v, i, j):
        v = np.full(cin, pad_value) if v is None else v
        return acc + np.array([wv[o, i, j] @ v[(o // cout_g) * cg:(o // cout_g + 1) * cg]
                               for o in range(cout)])

    want = loop_window(a, k, s, pads, fold, lambda: np.zeros(cout, np.int64))
    got = bconv.bconv2d_sum(bits_to_words(xbits, groups), bits_to_words(wbits), cin=cin,
                            groups=groups, stride=s, padding=list(pads), pad_mode=mode)
    np.testing.assert_array_equal(got, want)


def test_symmetric_int_and_list_agree():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 5, 6, 2)).astype(np.float32)
    wt = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    b = np.zeros(3, np.float32)
    np.testing.assert_array_equal(float_ops.conv2d_f32(x, wt, b, 2, 1),
                                  float_ops.conv2d_f32(x, wt, b, 2, [1, 1, 1, 1]))


@pytest.mark.parametrize(("value", "match"), [
    ([1, 2, 3], "top, left, bottom, right"),
    ([1, 2, 3, 4, 5], "top, left, bottom, right"),
    ([0, 1.5, 0, 0], "of ints, got"),  # was truncated to 1
    ([0, True, 0, 0], "of ints, got"),  # was read as 1
    (2.0, "of ints, got"),
    ("1111", "of ints, got"),
    ([0, 0, -1, 0], "non-negative"),
    (-1, "non-negative"),
])
def test_as_pads_refuses(value, match):
    with pytest.raises(ValueError, match=match):
        as_pads(value)


def test_as_pads_forms():
    assert as_pads(2) == (2, 2, 2, 2)
    assert as_pads(np.int64(1)) == (1, 1, 1, 1)
    assert as_pads((0, 1, 2, 3)) == (0, 1, 2, 3)
    assert as_pads(np.array([0, 1, 1, 0]).tolist()) == (0, 1, 1, 0)


def test_bad_padding_values():
    with pytest.raises(ValueError, match="'valid' needs padding=0"):
        bconv.bconv2d_sum(np.zeros((1, 3, 3, 1), np.uint32), np.zeros((1, 1, 1, 1), np.uint32),
                          cin=8, padding=[0, 0, 1, 0], pad_mode="valid")
    with pytest.raises(ValueError, match="every side"):
        pool_packed.maxpool_packed(np.zeros((1, 3, 3, 1), np.uint32), 2, 1, [0, 0, 2, 0])


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 300), k=st.integers(1, 11), s=st.integers(1, 5))
def test_same_padding_has_tf_properties(size, k, s):
    """TF SAME: out = ceil(size / s); the padding is the least that lets the last window end at
    the padded edge; begin = total // 2 (the extra one at the end); begin ≤ end ≤ k / 2."""
    begin, end = same_padding_1d(size, k, s)
    out = -(-size // s)
    assert (size + begin + end - k) // s + 1 == out
    assert begin + end == max((out - 1) * s + k - size, 0)
    assert begin == (begin + end) // 2 and begin <= end and 2 * end <= k


def test_tf_same_padding_examples():
    # stride 2, k 3 on an even input: the extra row/column goes to the bottom/right
    assert tf_same_padding(224, 224, 3, 3, 2) == [0, 0, 1, 1]
    assert tf_same_padding(7, 7, 3, 3, 1) == 1  # symmetric: the int form (format version 1)
    assert tf_same_padding(8, 7, 3, 3, 2) == [0, 1, 1, 1]
    assert tf_same_padding(4, 4, 2, 2, 2) == 0
    assert padding_attr(2, 2, 2, 2) == 2 and padding_attr(0, 1, 0, 1) == [0, 1, 0, 1]
