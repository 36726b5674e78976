"""The TFLite builtin ops of a float-inference LCE model → bnnflow's float32 ops.

Every mapping is exact in real arithmetic; the float32 results differ from TFLite's by
rounding only (summation order, and LCE folding ``K`` into its bias): docs/import.md.
"""

from __future__ import annotations

import numpy as np

from bnnflow.convert.lce.common import VALID, activation, fail, per_channel, window
from bnnflow.convert.lce.importer import Context, Value
from bnnflow.convert.lce.reader import TfOp


def emit_activation(ctx: Context, op: TfOp, x: Value, lo: float | None,
                    hi: float | None) -> Value:
    """A clamp ``[lo, hi]`` (either side open) as one or two ``pwl_f32`` ops."""
    c = x.shape[-1]
    one, zero = np.ones(c, np.float32), np.zeros(c, np.float32)
    if lo is not None:  # x >= lo ? x : lo
        x = ctx.emit(op, "pwl_f32", [x], {}, "float32", x.shape, ".lo", t=zero + lo, kp=one,
                     bp=zero, kn=zero, bn=zero + lo)
    if hi is not None:  # x >= hi ? hi : x
        x = ctx.emit(op, "pwl_f32", [x], {}, "float32", x.shape, ".hi", t=zero + hi, kp=zero,
                     bp=zero + hi, kn=one, bn=zero)
    return x


def _finish(ctx: Context, op: TfOp, out: Value, act_key: str = "FusedActivationFunction") -> None:
    lo, hi = activation(op, op.options.get(act_key, 0))
    ctx.bind(op, emit_activation(ctx, op, out, lo, hi))


def _float_in(ctx: Context, op: TfOp, pos: int = 0, allow_pad: bool = False,
              allow_slice: bool = False) -> Value:
    """Input ``pos``, float32; a pending PAD only with ``allow_pad``, a SPLIT slice only with
    ``allow_slice`` (Context.value refuses them otherwise)."""
    x = ctx.value(op, pos, pending=True)
    if x.kind != "float32":
        raise fail(op, f"input {pos} is {x.kind}, expected float32")
    if (x.pad is not None and not allow_pad) or (x.slice is not None and not allow_slice):
        ctx.value(op, pos)  # raises the message naming the pending PAD / SPLIT
    return x


def conv_2d(ctx: Context, op: TfOp) -> None:
    x = _float_in(ctx, op, allow_pad=True, allow_slice=True)
    w = ctx.const(op, 1).astype(np.float32)
    _, kh, kw, cin = w.shape
    if x.slice is not None:  # a SPLIT output: widen the weights to all channels
        if x.pad is not None:
            raise fail(op, "a PAD of a SPLIT output is not supported")
        start, stop, total = x.slice
        full = np.zeros((w.shape[0], kh, kw, total), np.float32)
        if stop - start != cin:
            raise fail(op, f"filter {list(w.shape)} does not match the split's {stop - start} "
                       "channels")
        full[..., start:stop] = w
        w, cin = full, total
        x = Value(x.name, x.kind, (*x.shape[:3], total), x.producer)
    if len(x.shape) != 4 or x.shape[3] % cin or w.shape[0] % (x.shape[3] // cin):
        raise fail(op, f"filter {list(w.shape)} does not match input {list(x.shape)}")
    groups = x.shape[3] // cin
    if groups > 1:  # grouped: block-diagonal dense weights (exact, the zeros add nothing)
        og = w.shape[0] // groups
        dense = np.zeros((w.shape[0], kh, kw, x.shape[3]), np.float32)
        for g in range(groups):
            dense[g * og:(g + 1) * og, :, :, g * cin:(g + 1) * cin] = w[g * og:(g + 1) * og]
        w = dense
    _conv(ctx, op, x, w, kh, kw)


def depthwise_conv_2d(ctx: Context, op: TfOp) -> None:
    """A depthwise conv as a dense ``conv2d_f32`` whose off-diagonal weights are 0 (exact:
    the zero terms add nothing); output channel ``c·m + j`` reads input channel ``c``."""
    x = _float_in(ctx, op, allow_pad=True)
    w = ctx.const(op, 1).astype(np.float32)
    _, kh, kw, cm = w.shape
    c = x.shape[-1]
    if len(x.shape) != 4 or cm % c:
        raise fail(op, f"filter {list(w.shape)} does not match input {list(x.shape)}")
    m = cm // c
    dense = np.zeros((cm, kh, kw, c), np.float32)
    dense[np.arange(cm), :, :, np.arange(cm) // m] = np.moveaxis(w[0], -1, 0)
    _conv(ctx, op, x, dense, kh, kw)


def _conv(ctx: Context, op: TfOp, x: Value, w: np.ndarray, kh: int, kw: int) -> None:
    o = op.options
    b = ctx.const(op, 2, required=False)
    bias = np.zeros(w.shape[0], np.float32) if b is None else b.astype(np.float32)
    _, stride, padding, (ho, wo) = window(
        op, x.shape, kh, kw, int(o["Padding"]), int(o["StrideH"]), int(o["StrideW"]),
        int(o.get("DilationHFactor", 1)), int(o.get("DilationWFactor", 1)), extra=x.pad)
    out = ctx.emit(op, "conv2d_f32", [x], {"stride": stride, "padding": padding}, "float32",
                   (x.shape[0], ho, wo, w.shape[0]), weights=w, bias=bias)
    _finish(ctx, op, out)


def fully_connected(ctx: Context, op: TfOp) -> None:
    x = _float_in(ctx, op)
    w = ctx.const(op, 1).astype(np.float32)
    if len(x.shape) == 4:
        x = ctx.emit(op, "flatten", [x], {}, "float32",
                     (x.shape[0], int(np.prod(x.shape[1:]))), ".flat")
    if w.ndim != 2 or w.shape[1] != x.shape[1]:
        raise fail(op, f"weights {list(w.shape)} do not match input {list(x.shape)}")
    b = ctx.const(op, 2, required=False)
    bias = np.zeros(w.shape[0], np.float32) if b is None else b.astype(np.float32)
    out = ctx.emit(op, "dense_f32", [x], {}, "float32", (x.shape[0], w.shape[0]), weights=w,
                   bias=bias)
    _finish(ctx, op, out)


def _affine(ctx: Context, op: TfOp, x: Value, scale: np.ndarray, bias: np.ndarray) -> None:
    out = ctx.emit(op, "scale_bias", [x], {}, "float32", x.shape, scale=scale, bias=bias)
    _finish(ctx, op, out)


def add(ctx: Context, op: TfOp) -> None:
    if ctx.is_const(op, 0) or ctx.is_const(op, 1):
        k = 0 if ctx.is_const(op, 0) else 1
        x = _float_in(ctx, op, 1 - k)
        c = x.shape[-1]
        _affine(ctx, op, x, np.ones(c, np.float32), per_channel(op, ctx.const(op, k), c, "addend"))
        return
    a, b = _float_in(ctx, op, 0), _float_in(ctx, op, 1)
    if a.shape != b.shape:
        raise fail(op, f"operands {list(a.shape)} and {list(b.shape)} differ (broadcasting "
                   "ADD of two activations is not supported)")
    _finish(ctx, op, ctx.emit(op, "add_f32", [a, b], {}, "float32", a.shape))


def mul(ctx: Context, op: TfOp) -> None:
    if not (ctx.is_const(op, 0) or ctx.is_const(op, 1)):
        _mul_activations(ctx, op)
        return
    k = 0 if ctx.is_const(op, 0) else 1
    x = _float_in(ctx, op, 1 - k)
    c = x.shape[-1]
    _affine(ctx, op, x, per_channel(op, ctx.const(op, k), c, "factor"), np.zeros(c, np.float32))


def _mul_activations(ctx: Context, op: TfOp) -> None:
    """``a·b`` of two activations of one shape, or an ``[N, H, W, C]`` activation times an
    ``[N, C]`` one (held for TFLite's ``[N, 1, 1, C]``: a per-sample channel gate, as
    RealToBinaryNet's scaling branches), either operand order: ``mul_f32``."""
    a, b = _float_in(ctx, op, 0), _float_in(ctx, op, 1)
    if len(b.shape) > len(a.shape):
        a, b = b, a
    if a.shape != b.shape and not (len(a.shape) == 4 and b.shape == (a.shape[0], a.shape[3])):
        raise fail(op, f"operands {list(a.shape)} and {list(b.shape)}: MUL of two activations "
                   "maps for one shape, or [N, H, W, C] times [N, 1, 1, C] (a channel gate); "
                   "other broadcasting is not supported")
    _finish(ctx, op, ctx.emit(op, "mul_f32", [a, b], {}, "float32", a.shape))


def logistic(ctx: Context, op: TfOp) -> None:
    """``LOGISTIC`` (sigmoid) → ``sigmoid_f32``."""
    x = _float_in(ctx, op)
    ctx.bind(op, ctx.emit(op, "sigmoid_f32", [x], {}, "float32", x.shape))


def sub(ctx: Context, op: TfOp) -> None:
    if ctx.is_const(op, 1):  # x - c
        x = _float_in(ctx, op, 0)
        c = x.shape[-1]
        _affine(ctx, op, x, np.ones(c, np.float32), -per_channel(op, ctx.const(op, 1), c, "c"))
    elif ctx.is_const(op, 0):  # c - x
        x = _float_in(ctx, op, 1)
        c = x.shape[-1]
        _affine(ctx, op, x, -np.ones(c, np.float32), per_channel(op, ctx.const(op, 0), c, "c"))
    else:
        raise fail(op, "SUB of two activations is not supported (only with a constant)")


#: Readers of a whole-image average pool that take its ``[N, C]`` form (held for TFLite's
#: ``[N, 1, 1, C]``, as for MEAN); RESHAPE only to a 2-D shape. (Not ADD / MUL: their other
#: operand may be a 4-D ``[N, 1, 1, C]`` activation.)
_GLOBAL_READERS = ("FULLY_CONNECTED",)


def _whole_image_mean(ctx: Context, op: TfOp, x: Value) -> bool:
    """An AVERAGE_POOL_2D whose window is the whole (unpadded) input — larq-zoo's
    ``utils.global_pool``: heads and RealToBinaryNet's scaling branches — read only by ops
    that take ``[N, C]``: it maps to ``global_avgpool_f32`` (the same mean; no kernel-size
    limit, and non-square inputs)."""
    o = op.options
    if len(x.shape) != 4 or (int(o["FilterHeight"]), int(o["FilterWidth"])) != x.shape[1:3]:
        return False
    if tuple(ctx.tensor(op.outputs[0]).shape[1:3]) != (1, 1):
        return False
    for user in ctx.consumers.get(op.outputs[0], []):
        two_d = user.code == "RESHAPE" and len(ctx.tensor(user.outputs[0]).shape) == 2
        if user.code not in _GLOBAL_READERS and not two_d:
            return False
    return True


def _pool(ctx: Context, op: TfOp, op_type: str) -> None:
    x = _float_in(ctx, op)
    if op_type == "avgpool_f32" and _whole_image_mean(ctx, op, x):
        out = ctx.emit(op, "global_avgpool_f32", [x], {}, "float32", (x.shape[0], x.shape[3]))
        _finish(ctx, op, out)
        return
    o = op.options
    kernel, stride, padding, (ho, wo) = window(
        op, x.shape, int(o["FilterHeight"]), int(o["FilterWidth"]), int(o["Padding"]),
        int(o["StrideH"]), int(o["StrideW"]))
    if op_type == "avgpool_f32" and padding != 0:
        raise fail(op, "AVERAGE_POOL_2D with SAME padding that pads divides by the taps inside "
                   "the image; bnnflow's avgpool_f32 divides by kernel² (VALID pools map)")
    out = ctx.emit(op, op_type, [x], {"kernel": kernel, "stride": stride, "padding": padding},
                   "float32", (x.shape[0], ho, wo, x.shape[-1]))
    _finish(ctx, op, out)


def max_pool_2d(ctx: Context, op: TfOp) -> None:
    _pool(ctx, op, "maxpool_f32")


def average_pool_2d(ctx: Context, op: TfOp) -> None:
    _pool(ctx, op, "avgpool_f32")


def mean(ctx: Context, op: TfOp) -> None:
    x = _float_in(ctx, op)
    axes = sorted(int(a) % 4 for a in np.atleast_1d(ctx.const(op, 1)))
    if len(x.shape) != 4 or axes != [1, 2]:
        raise fail(op, f"MEAN over axes {axes} of {list(x.shape)} (only the spatial mean of "
                   "an NHWC tensor maps)")
    out = ctx.emit(op, "global_avgpool_f32", [x], {}, "float32", (x.shape[0], x.shape[3]))
    ctx.bind(op, out)  # keep_dims: [N,1,1,C] is held as [N,C]


def reshape(ctx: Context, op: TfOp) -> None:
    """A reshape that only adds or drops unit dims is an alias; ``[N,H,W,C] → [N, H·W·C]`` is
    ``flatten`` (both NHWC order)."""
    x = ctx.value(op, 0)
    target = tuple(d for d in ctx.tensor(op.outputs[0]).shape)
    core_x = [d for d in x.shape[1:] if d != 1]
    core_t = [d for d in target[1:] if d != 1]
    if core_x == core_t and (len(x.shape) == 2 or tuple(x.shape[1:]) == target[1:]):
        ctx.bind(op, x)
    elif len(x.shape) == 4 and len(target) == 2 and target[1] == int(np.prod(x.shape[1:])):
        ctx.bind(op, ctx.emit(op, "flatten", [x], {}, x.kind, (x.shape[0], target[1])))
    else:
        raise fail(op, f"reshape {list(x.shape)} → {list(target)} is neither a flatten nor "
                   "adding/dropping unit dims")


def concatenation(ctx: Context, op: TfOp) -> None:
    xs = [_float_in(ctx, op, i) for i in range(len(op.inputs))]
    rank = len(xs[0].shape)
    if int(op.options.get("Axis", -1)) % rank != rank - 1:
        raise fail(op, f"concatenation along axis {op.options.get('Axis')} (only the channel "
                   "axis maps)")
    c = sum(x.shape[-1] for x in xs)
    out = ctx.emit(op, "concat", xs, {}, "float32", (*xs[0].shape[:-1], c))
    _finish(ctx, op, out)


def split(ctx: Context, op: TfOp) -> None:
    """SPLIT along channels: each output is a pending channel slice of the input (read by
    CONV_2D only: MeliusNet's grouped real convs are SPLIT → CONV_2D per group → CONCAT)."""
    axis = int(np.asarray(ctx.const(op, 0)).reshape(()))
    x = ctx.value(op, 1)
    if x.kind != "float32" or x.pad is not None or x.slice is not None:
        raise fail(op, f"SPLIT of a {x.kind} tensor (only a plain float32 one maps)")
    if axis % len(x.shape) != len(x.shape) - 1 or len(x.shape) != 4:
        raise fail(op, f"SPLIT along axis {axis} (only the channel axis of NHWC maps)")
    n = len(op.outputs)
    if n < 1 or x.shape[3] % n:
        raise fail(op, f"SPLIT of {x.shape[3]} channels into {n} equal parts")
    c = x.shape[3] // n
    for i, out in enumerate(op.outputs):
        ctx.values[out] = Value(x.name, "float32", (*x.shape[:3], c), x.producer,
                                slice=(i * c, (i + 1) * c, x.shape[3]))


def pad(ctx: Context, op: TfOp) -> None:
    """A spatial zero PAD is held back and folded into the VALID convolution that reads it."""
    x = _float_in(ctx, op)
    p = ctx.const(op, 1).astype(np.int64)
    if len(op.inputs) > 2 and op.inputs[2] >= 0 and np.any(ctx.const(op, 2) != 0):
        raise fail(op, "PADV2 with a nonzero constant is not supported")
    if p.shape != (4, 2) or np.any(p[0] != 0) or np.any(p < 0):
        raise fail(op, f"paddings {p.tolist()} (only spatial or channel, non-negative padding "
                   "maps)")
    if np.any(p[3] != 0):
        if np.any(p[1:3] != 0) or len(x.shape) != 4:
            raise fail(op, f"paddings {p.tolist()}: channels and space at once")
        _pad_channels(ctx, op, x, int(p[3, 0]), int(p[3, 1]))
        return
    for user in ctx.consumers.get(op.outputs[0], []):
        if user.code not in ("CONV_2D", "DEPTHWISE_CONV_2D") or user.options["Padding"] != VALID:
            raise fail(op, f"its output is read by op #{user.index} ({user.code}); a PAD is "
                       "folded only into VALID CONV_2D / DEPTHWISE_CONV_2D")
    (t, b), (le, r) = p[1].tolist(), p[2].tolist()
    ctx.bind(op, Value(x.name, x.kind, (x.shape[0], x.shape[1], x.shape[2], x.shape[3]),
                       x.producer, ((t, b), (le, r))))


def _pad_channels(ctx: Context, op: TfOp, x: Value, before: int, after: int) -> None:
    """Zero channels before/after: a 1x1 ``conv2d_f32`` whose weights embed the input's
    channels at offset ``before`` (exact: every output is one input times 1, or 0)."""
    c = x.shape[3]
    w = np.zeros((before + c + after, 1, 1, c), np.float32)
    w[before + np.arange(c), 0, 0, np.arange(c)] = 1.0
    out = ctx.emit(op, "conv2d_f32", [x], {"stride": 1, "padding": 0}, "float32",
                   (*x.shape[:3], w.shape[0]), weights=w, bias=np.zeros(w.shape[0], np.float32))
    ctx.bind(op, out)


def relu(ctx: Context, op: TfOp) -> None:
    x = _float_in(ctx, op)
    lo, hi = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}[op.code]
    ctx.bind(op, emit_activation(ctx, op, x, lo, hi))


def prelu(ctx: Context, op: TfOp) -> None:
    x = _float_in(ctx, op)
    c = x.shape[-1]
    alpha = per_channel(op, ctx.const(op, 1), c, "alpha")
    _pwl_slope(ctx, op, x, alpha)


def leaky_relu(ctx: Context, op: TfOp) -> None:
    x = _float_in(ctx, op)
    _pwl_slope(ctx, op, x, np.full(x.shape[-1], op.options["Alpha"], np.float32))


def _pwl_slope(ctx: Context, op: TfOp, x: Value, alpha: np.ndarray) -> None:
    c = x.shape[-1]
    one, zero = np.ones(c, np.float32), np.zeros(c, np.float32)
    ctx.bind(op, ctx.emit(op, "pwl_f32", [x], {}, "float32", x.shape, t=zero, kp=one, bp=zero,
                          kn=alpha.astype(np.float32), bn=zero))


def softmax(ctx: Context, op: TfOp) -> None:
    """A final SOFTMAX is left out (bnnflow outputs logits; the top-1 is unchanged)."""
    if op.outputs[0] not in ctx.model.outputs:
        raise fail(op, "SOFTMAX inside the graph is not supported (only a final one, dropped)")
    ctx.notes.append(f"op #{op.index} SOFTMAX dropped: the .bnn outputs the logits")
    ctx.bind(op, _float_in(ctx, op))


def quantize(ctx: Context, op: TfOp) -> None:
    """``QUANTIZE`` / ``DEQUANTIZE``: int8 tensors inside the graph are refused (docs/import.md,
    *int8 inference: not imported, and why*)."""
    raise fail(op, "int8-inference models are not imported (an exact import needs TFLite's "
               "int8 arithmetic: docs/import.md says why); convert with the default float "
               "inference type")


HANDLERS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "ADD": add,
    "MUL": mul,
    "SUB": sub,
    "MAX_POOL_2D": max_pool_2d,
    "AVERAGE_POOL_2D": average_pool_2d,
    "MEAN": mean,
    "RESHAPE": reshape,
    "CONCATENATION": concatenation,
    "PAD": pad,
    "SPLIT": split,
    "PADV2": pad,
    "RELU": relu,
    "RELU6": relu,
    "RELU_N1_TO_1": relu,
    "PRELU": prelu,
    "LEAKY_RELU": leaky_relu,
    "LOGISTIC": logistic,
    "SOFTMAX": softmax,
    "QUANTIZE": quantize,
    "DEQUANTIZE": quantize,
}
