"""Argument checks shared by every binding (csrc/bindings/ndarray_check.h): thread cap,
zero-size inputs, pad bits of packed activations, window bounds, weight-size limits and
error-message format."""

from __future__ import annotations

import numpy as np
import pytest

from bnnflow import _engine
from bnnflow.reference import bconv as ref

MAX_THREADS = 256


def conv_weights(cout: int = 4, k: int = 3, cin: int = 4) -> _engine.BconvWeights:
    """Packed weights [cout, k, k, ceil(cin/32)] with random bits below cin."""
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**32, size=(cout, k, k, 1), dtype=np.uint32)
    return _engine.prepare_bconv_weights(words & np.uint32((1 << cin) - 1), cin)


def dense_weights(cout: int = 3, cin: int = 5) -> _engine.BconvWeights:
    w = np.full((cout, 1), (1 << cin) - 1, np.uint32)
    return _engine.prepare_bdense_weights(w, cin)


BINARY_CALLS = {
    "pack_bits": lambda t: _engine.pack_bits(
        np.zeros((2, 4), np.int8), np.zeros(4, np.int32), threads=t
    ),
    "bconv2d": lambda t: _engine.bconv2d(
        np.zeros((1, 4, 4, 1), np.uint32), conv_weights(), padding=1, threads=t
    ),
    "bdense": lambda t: _engine.bdense(np.zeros((2, 1), np.uint32), dense_weights(), threads=t),
    "maxpool_packed": lambda t: _engine.maxpool_packed(
        np.zeros((1, 4, 4, 1), np.uint32), 2, 2, threads=t
    ),
}


@pytest.mark.parametrize("op", sorted(BINARY_CALLS))
def test_binary_ops_cap_threads_like_glue(op):
    with pytest.raises(ValueError, match=rf"^threads: must be in \[1, {MAX_THREADS}\]"):
        BINARY_CALLS[op](MAX_THREADS + 1)
    with pytest.raises(ValueError, match=r"^threads: must be in"):
        BINARY_CALLS[op](0)
    BINARY_CALLS[op](2)


def test_glue_ops_cap_threads():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=rf"^threads: must be in \[1, {MAX_THREADS}\]"):
        _engine.add_f32(x, x, threads=MAX_THREADS + 1)


def test_zero_batch_bconv_returns_empty():
    w = conv_weights()
    out = _engine.bconv2d(np.zeros((0, 4, 4, 1), np.uint32), w, padding=1)
    assert out.shape == (0, 4, 4, 4)
    assert out.dtype == np.int32


def test_zero_batch_bdense_returns_empty():
    out = _engine.bdense(np.zeros((0, 1), np.uint32), dense_weights())
    assert out.shape == (0, 3)


def test_zero_batch_pack_bits_returns_empty():
    out = _engine.pack_bits(np.zeros((0, 4), np.int8), np.zeros(4, np.int32))
    assert out.shape == (0, 1)
    assert out.dtype == np.uint32


def test_zero_batch_maxpool_packed_returns_empty():
    out = _engine.maxpool_packed(np.zeros((0, 4, 4, 2), np.uint32), 2, 2)
    assert out.shape == (0, 2, 2, 2)


def test_zero_spatial_size_is_rejected():
    with pytest.raises(ValueError, match=r"^x: spatial size must be >= 1"):
        _engine.bconv2d(np.zeros((1, 0, 4, 1), np.uint32), conv_weights(), padding=1)
    with pytest.raises(ValueError, match=r"^x: spatial size must be >= 1"):
        _engine.maxpool_packed(np.zeros((1, 4, 0, 1), np.uint32), 1, 1)


@pytest.mark.parametrize(
    ("shape", "axis"),
    [((0, 3, 3, 1), r"axis 0 \(cout\)"), ((4, 0, 3, 1), r"axis 1 \(kh\)"),
     ((4, 3, 0, 1), r"axis 2 \(kw\)")],
)  # fmt: skip
def test_prepare_bconv_rejects_empty_dimension(shape, axis):
    with pytest.raises(ValueError, match=rf"^weights {axis}: must be >= 1, got 0"):
        _engine.prepare_bconv_weights(np.zeros(shape, np.uint32), 4)


def test_prepare_bdense_rejects_zero_cout():
    with pytest.raises(ValueError, match=r"cout|output channels"):
        _engine.prepare_bdense_weights(np.zeros((0, 1), np.uint32), 4)


@pytest.mark.parametrize("cin", [2**31 - 1, 65536])
def test_prepare_bconv_rejects_huge_cin(cin):
    with pytest.raises(ValueError, match=r"^cin: KH\*KW\*cin/groups = \d+ exceeds 65535"):
        _engine.prepare_bconv_weights(np.zeros((4, 1, 1, 2048), np.uint32), cin)


def test_prepare_bconv_caps_k_with_kernel_size():
    words = (7282 + 31) // 32  # 3*3*7282 = 65538 > 65535
    with pytest.raises(ValueError, match=r"exceeds 65535"):
        _engine.prepare_bconv_weights(np.zeros((1, 3, 3, words), np.uint32), 7282)
    _engine.prepare_bconv_weights(np.zeros((1, 3, 3, words), np.uint32), 7281)


def test_prepare_bdense_rejects_huge_cin():
    with pytest.raises(ValueError, match=r"^cin: must be <= 65535"):
        _engine.prepare_bdense_weights(np.zeros((4, 1), np.uint32), 2**31 - 1)


def test_bconv_rejects_pad_bits():
    cin = 5
    rng = np.random.default_rng(1)
    w = rng.integers(0, 2**32, size=(4, 3, 3, 1), dtype=np.uint32) & np.uint32(0b11111)
    prepared = _engine.prepare_bconv_weights(w, cin)
    x = rng.integers(0, 32, size=(1, 4, 4, 1), dtype=np.uint32)
    clean = _engine.bconv2d(x, prepared, padding=1)
    np.testing.assert_array_equal(clean, ref.bconv2d(x, w, cin=cin, padding=1))
    dirty = x.copy()
    dirty[0, 2, 3, 0] |= np.uint32(1 << 7)
    with pytest.raises(ValueError, match=r"^x: pad bits beyond channel Cg=5 must be 0"):
        _engine.bconv2d(dirty, prepared, padding=1)


def test_bconv_rejects_pad_bits_in_any_group():
    cin, groups = 10, 2  # Cg = 5: one word per group
    w = np.zeros((4, 1, 1, 1), np.uint32)
    prepared = _engine.prepare_bconv_weights(w, cin, groups)
    x = np.zeros((1, 2, 2, 2), np.uint32)
    x[0, 1, 1, 1] = np.uint32(1 << 31)
    with pytest.raises(ValueError, match="pad bits"):
        _engine.bconv2d(x, prepared)


def test_bdense_rejects_pad_bits():
    x = np.array([[0b11111], [1 << 5]], np.uint32)
    with pytest.raises(ValueError, match=r"^x: pad bits beyond channel Cg=5 must be 0"):
        _engine.bdense(x, dense_weights(cin=5))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"padding": 2**30}, r"^padding: must be in \[0, 1024\]"),
     ({"padding": -1}, r"^padding: must be in"),
     ({"stride": 65}, r"^stride: must be in \[1, 64\]"),
     ({"stride": 2**30}, r"^stride: must be in"),
     ({"stride": 0}, r"^stride: must be in")],
)  # fmt: skip
def test_bconv_window_bounds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _engine.bconv2d(np.zeros((1, 4, 4, 1), np.uint32), conv_weights(), **kwargs)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "match"),
    [(3, 1, 2**30, r"^padding: must be in \[0, 1\]"),
     (3, 1, 2, r"^padding: must be in \[0, 1\]"),
     (2, 2**30, 0, r"^stride: must be in \[1, 64\]"),
     (0, 1, 0, r"^kernel: ")],
)  # fmt: skip
def test_maxpool_packed_window_bounds(kernel, stride, padding, match):
    with pytest.raises(ValueError, match=match):
        _engine.maxpool_packed(np.zeros((1, 4, 4, 1), np.uint32), kernel, stride, padding)


def test_conv2d_int8_names_both_accepted_dtypes():
    x = np.zeros((1, 4, 4, 2), np.float32)
    w = np.zeros((3, 1, 1, 2), np.int8)
    with pytest.raises(ValueError, match=r"^x: expected dtype uint8 or int8, got float32"):
        _engine.conv2d_int8(x, w, np.zeros(3, np.int32), np.zeros(2, np.int32), 1, 0)


def test_dwconv2d_int8_names_both_accepted_dtypes():
    x = np.zeros((1, 4, 4, 3), np.float32)
    w = np.zeros((3, 3, 3), np.int8)
    with pytest.raises(ValueError, match=r"^x: expected dtype uint8 or int8, got float32"):
        _engine.dwconv2d_int8(x, w, np.zeros(3, np.int32), np.zeros(3, np.int32))
