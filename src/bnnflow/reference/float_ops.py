"""Float32 glue of the ``float`` data-flow and the classifier's dequant (docs/numerics.md §5).

The float data-flow ops are computed in float64 and rounded to float32 once; the engine matches
within 1e-5 relative. ``dequant`` instead rounds exactly as the engine does (float32 product,
then float32 sum), so the logits of int8 models are bit-identical.
"""

from __future__ import annotations

import numpy as np

from bnnflow.reference.int8_ops import Padding, window_taps


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def scale_bias(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel affine map ``y = x·a[c] + b[c]``."""
    return (_f64(x) * _f64(a) + _f64(b)).astype(np.float32)


def add_f32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``y = a + b``."""
    return (_f64(a) + _f64(b)).astype(np.float32)


def sigmoid_f32(x: np.ndarray) -> np.ndarray:
    """The logistic function ``y = 1 / (1 + exp(−x))``, in float64 rounded once (TFLite's
    ``LOGISTIC``; RealToBinaryNet's gates)."""
    with np.errstate(over="ignore"):  # exp(-x) = inf for x < -709: y = 0
        return (1.0 / (1.0 + np.exp(-_f64(x)))).astype(np.float32)


def mul_f32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``y = a·b`` elementwise; ``b`` of ``a``'s shape, or ``[N, C]`` for an ``[N, H, W, C]``
    ``a`` (broadcast over H and W: ``y[n,h,w,c] = a[n,h,w,c]·b[n,c]``). The float64 product
    of two float32 values is exact, so this equals the float32 product bit for bit."""
    a64, b64 = _f64(a), _f64(b)
    if a64.ndim == 4 and b64.ndim == 2:
        b64 = b64[:, None, None, :]
    return (a64 * b64).astype(np.float32)


def pwl_f32(
    x: np.ndarray, t: np.ndarray, kp: np.ndarray, bp: np.ndarray, kn: np.ndarray, bn: np.ndarray
) -> np.ndarray:
    """``y = x ≥ t[c] ? kp[c]·x + bp[c] : kn[c]·x + bn[c]``."""
    v = _f64(x)
    return np.where(v >= _f64(t), _f64(kp) * v + _f64(bp), _f64(kn) * v + _f64(bn)).astype(
        np.float32
    )


def dequant(x: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Classifier logits for int32 ``x``: ``y = f32(f32(f32(x)·scale[c]) + bias[c])``.

    Three float32 roundings in this order (the int32 → float32 conversion, the product, the
    sum; no fused multiply-add), exactly as every engine kernel computes them, so the result is
    bit-identical to the engine's. (Rounding ``x·scale + bias`` once from float64 differs in the
    last bit for about a quarter of the elements of random data.)
    """
    f32 = np.float32
    xf = np.asarray(x).astype(f32)
    prod = np.multiply(xf, np.asarray(scale, dtype=f32), dtype=f32)
    return np.add(prod, np.asarray(bias, dtype=f32), dtype=f32)


def conv2d_f32(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: int = 1, padding: Padding = 0
) -> np.ndarray:
    """Zero-padded NHWC convolution: ``y[o] = bias[o] + Σ_{taps inside} Σ_c w[o,kh,kw,c]·x[c]``."""
    _, kh, kw, _ = w.shape
    acc = _f64(bias)
    for t, tap in enumerate(window_taps(_f64(x), kh, kw, stride, padding, fill=0.0)):
        acc = acc + tap @ _f64(w[:, t // kw, t % kw, :]).T
    return acc.astype(np.float32)


def dense_f32(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``y[n,o] = bias[o] + Σ_c w[o,c]·x[n,c]``."""
    return (_f64(x) @ _f64(w).T + _f64(bias)).astype(np.float32)


def maxpool_f32(x: np.ndarray, kernel: int, stride: int, padding: Padding = 0) -> np.ndarray:
    """Max over the taps inside the image (padded taps ignored)."""
    taps = window_taps(_f64(x), kernel, kernel, stride, padding, fill=-np.inf)
    return np.max(taps, axis=0).astype(np.float32)


def avgpool_f32(x: np.ndarray, kernel: int, stride: int, padding: Padding = 0) -> np.ndarray:
    """Average pool with ``count_include_pad``: (Σ taps inside) / kernel², whatever the padding
    (PyTorch's ``count_include_pad=True``; not TensorFlow's SAME average pool, which divides by
    the number of taps inside the image)."""
    taps = window_taps(_f64(x), kernel, kernel, stride, padding, fill=0.0)
    return (np.sum(taps, axis=0) / (kernel * kernel)).astype(np.float32)


def global_avgpool_f32(x: np.ndarray) -> np.ndarray:
    """``[N, C]`` mean over H·W."""
    return _f64(x).mean(axis=(1, 2)).astype(np.float32)
