"""Larq Compute Engine's custom ops → bnnflow's binary ops.

LCE 0.16 (larq_compute_engine/core/bitpacking/bitpack.h, core/bconv2d/output_transform.h,
tflite/kernels/bconv2d.cc, core/bmaxpool.h) packs exactly as bnnflow does (docs/numerics.md
§1–2): channel ``c`` is bit ``c % 32`` of int32 word ``c // 32``, bit 1 where ``x < 0`` (float)
or ``x < zero_point`` (int8), pad bits 0. So packed activations and LceBconv2d's filters
(``[Cout, KH, KW, words]`` int32) are taken over bit for bit.

LceBconv2d computes ``accum = popcount(x xor w)`` over all taps (padded taps as +1, bit 0) and

- float output: ``float(clamp(K − 2·accum)) · post_mul[c] + post_bias[c]`` with the fused
  activation as the clamp on ``d = K − 2·accum`` (``K = KH·KW·Cin/groups``); with
  ``pad_values = 0`` the padded taps' contribution is subtracted afterwards (zero padding).
  That is bnnflow's ``float`` epilogue with ``scale = post_mul``, ``bias = post_bias``,
  ``clamp_lo/hi`` from the activation, and ``pad_mode`` ``one`` / ``zero`` / ``valid``;
- bitpacked output: bit ``= accum > threshold[c]``, i.e. ``d < K − 2·threshold[c]``: the
  ``packed`` epilogue with ``T = K − 2·threshold`` (a threshold outside ``[0, K)`` gives a
  constant bit: ``T = INT32_MIN`` or ``INT32_MAX``).
"""

from __future__ import annotations

import numpy as np

from bnnflow.convert.lce.common import SAME, activation, fail, window
from bnnflow.convert.lce.importer import Context, Value
from bnnflow.convert.lce.reader import TfOp

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def lce_quantize(ctx: Context, op: TfOp) -> None:
    """LceQuantize: float32 → packed, bit = x < 0 (``pack`` with ``t = 0``)."""
    x = ctx.value(op, 0)
    if x.kind != "float32":
        raise fail(op, f"input is {x.kind}; only float32 input maps (int8 models are not "
                   "imported yet)")
    c = x.shape[-1]
    g = ctx.groups.get(op.outputs[0], 1)
    out = ctx.emit(op, "pack", [x], {"groups": g}, "packed", x.shape,
                   t=np.zeros(c, np.float32))
    ctx.bind(op, out)


def lce_bconv2d(ctx: Context, op: TfOp) -> None:
    x = ctx.value(op, 0)
    if x.kind != "packed":
        raise fail(op, f"input 0 is {x.kind}, expected a packed (LceQuantize) tensor")
    o = op.options
    w = ctx.const(op, 1).view(np.uint32)
    cout, kh, kw, wg = w.shape
    cin = int(o["channels_in"])
    if cin != x.shape[-1]:
        raise fail(op, f"channels_in {cin} differs from the input's {x.shape[-1]} channels")
    words = -(-cin // 32)
    if cin < 1 or wg < 1 or words % wg:
        raise fail(op, f"filter {list(w.shape)}: {wg} words per tap do not divide the "
                   f"{words} words of channels_in {cin} into groups")
    groups = words // wg
    pad_values = int(o.get("pad_values", 0))
    pad_code = int(o["padding"])
    _, stride, padding, (ho, wo) = window(
        op, x.shape, kh, kw, pad_code, int(o["stride_height"]), int(o["stride_width"]),
        int(o.get("dilation_height_factor", 1)), int(o.get("dilation_width_factor", 1)))
    if pad_code == SAME and padding != 0:
        mode = "one" if pad_values == 1 else "zero"
    else:  # VALID, or SAME that pads nothing (1x1 kernels)
        mode, padding = "valid", 0
    attrs = {"stride": stride, "padding": padding, "pad_mode": mode, "groups": groups}
    k = kh * kw * (cin // groups)
    out_t = ctx.tensor(op.outputs[0])
    shape = (x.shape[0], ho, wo, cout)
    if out_t.dtype is np.float32:
        value = _float_epilogue(ctx, op, x, attrs, w, k, shape)
    elif out_t.dtype is np.int32:
        value = _packed_epilogue(ctx, op, x, attrs, w, k, shape)
    else:
        raise fail(op, f"output dtype {np.dtype(out_t.dtype).name} is not mapped (float32 and "
                   "bitpacked outputs are; int8 output comes with int8 inference)")
    ctx.bind(op, value)


def _float_epilogue(ctx: Context, op: TfOp, x: Value, attrs: dict, w: np.ndarray, k: int,
                    shape: tuple[int, ...]) -> Value:
    lo, hi = activation(op, op.options.get("fused_activation_function", 0))
    mul = ctx.const(op, 2).astype(np.float32)
    bias = ctx.const(op, 3).astype(np.float32)
    attrs = {**attrs, "epilogue": "float",
             "clamp_lo": None if lo is None else max(int(lo), -k),
             "clamp_hi": None if hi is None else min(int(hi), k)}
    return ctx.emit(op, "bconv", [x], attrs, "float32", shape, weights=w, scale=mul, bias=bias)


def packed_thresholds(thresholds: np.ndarray, k: int) -> np.ndarray:
    """bnnflow's ``T`` (bit = ``d < T``) for LCE's thresholds (bit = ``accum > thr``), where
    ``d = K − 2·accum`` and ``0 ≤ accum ≤ K``: ``T = K − 2·thr``, or a constant bit."""
    thr = np.asarray(thresholds, np.int64)
    t = np.where(thr < 0, INT32_MAX, np.where(thr >= k, INT32_MIN, k - 2 * thr))
    return t.astype(np.int32)


def _packed_epilogue(ctx: Context, op: TfOp, x: Value, attrs: dict, w: np.ndarray, k: int,
                     shape: tuple[int, ...]) -> Value:
    t = packed_thresholds(ctx.const(op, 4), k)
    g = ctx.groups.get(op.outputs[0], 1)
    attrs = {**attrs, "epilogue": "packed", "clamp_lo": None, "clamp_hi": None, "out_groups": g}
    return ctx.emit(op, "bconv", [x], attrs, "packed", shape, weights=w, T=t)


def lce_bmaxpool2d(ctx: Context, op: TfOp) -> None:
    """LceBMaxPool2d: the AND of the bits over the window's taps inside the image."""
    x = ctx.value(op, 0)
    if x.kind != "packed":
        raise fail(op, f"input is {x.kind}, expected packed")
    o = op.options
    kernel, stride, padding, (ho, wo) = window(
        op, x.shape, int(o["filter_height"]), int(o["filter_width"]), int(o["padding"]),
        int(o["stride_height"]), int(o["stride_width"]))
    out = ctx.emit(op, "maxpool_packed", [x], {"kernel": kernel, "stride": stride,
                                                "padding": padding},
                   "packed", (x.shape[0], ho, wo, x.shape[-1]))
    ctx.bind(op, out)


def lce_dequantize(ctx: Context, op: TfOp) -> None:
    """LceDequantize: packed → float ±1. bnnflow has no unpack op; the packed tensor's
    producer is rewritten to compute the float ±1 directly: a packed-epilogue bconv becomes a
    float-epilogue bconv (``d`` itself) followed by ``pwl_f32`` giving ``d ≥ T ? +1 : −1``."""
    x = ctx.value(op, 0)
    prod = ctx.builder.ops[x.producer] if x.producer is not None else None
    if prod is None or prod.type != "bconv" or prod.attrs.get("epilogue") != "packed":
        raise fail(op, "only the output of a binary convolution can be dequantized (found "
                   f"{prod.type if prod else 'the graph input'})")
    users = ctx.consumers.get(op.inputs[0], [])
    if len(users) != 1:
        raise fail(op, "the bitpacked tensor has other readers besides LceDequantize")
    t = ctx.builder.tensors.pop(prod.params.pop("T")).astype(np.float32)
    cout = t.size
    prod.attrs.update(epilogue="float")
    prod.attrs.pop("out_groups")
    for role, arr in (("scale", np.ones(cout, np.float32)), ("bias", np.zeros(cout, np.float32))):
        prod.params[role] = f"{prod.name}.{role}"
        ctx.builder.tensors[prod.params[role]] = arr
    d = Value(x.name, "float32", x.shape, x.producer)
    one, zero = np.ones(cout, np.float32), np.zeros(cout, np.float32)
    out = ctx.emit(op, "pwl_f32", [d], {}, "float32", x.shape, t=t, kp=zero, bp=one, kn=zero,
                   bn=-one)
    ctx.bind(op, out)


HANDLERS = {
    "LceQuantize": lce_quantize,
    "LceBconv2d": lce_bconv2d,
    "LceBMaxPool2d": lce_bmaxpool2d,
    "LceDequantize": lce_dequantize,
}
