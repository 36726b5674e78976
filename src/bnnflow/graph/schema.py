"""Op schemas: required attrs (type, range), params (dtype, shape, value range), inputs and
shape inference for every op of docs/numerics.md.

Each :class:`OpSchema` lists its attrs and params declaratively; its ``infer`` function checks
what depends on the inputs (ranks, dtypes, channel counts, param shapes) and returns the
output's :class:`~bnnflow.graph.ir.TensorInfo`. Every violation raises
:class:`~bnnflow.errors.FormatError` naming the op and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from bnnflow.errors import FormatError
from bnnflow.graph.ir import Op, TensorInfo, words_per_group

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
#: Sanity bounds that keep hostile files from asking for absurd shapes or loops.
MAX_KERNEL = 64
MAX_STRIDE = 64
MAX_PADDING = 64
MAX_GROUPS = 1 << 16
#: Binary accumulators are exact in 16 bits (docs/numerics.md §4): K = KH*KW*Cg < 65536.
MAX_BINARY_K = 65535


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: ``kind`` is ``"int"`` or ``"str"``.

    ``lo``/``hi`` bound ints (inclusive), ``choices`` restricts strings, ``nullable`` allows
    ``None``. With ``when``, the attr is required exactly when ``when(attrs)`` holds and must be
    absent otherwise.
    """

    kind: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    when: Callable[[Mapping[str, Any]], bool] | None = None

    def describe(self) -> str:
        if self.kind == "str":
            text = "one of " + ", ".join(repr(c) for c in self.choices or ())
        else:
            text = f"int in [{self.lo}, {self.hi}]"
        return text + (" or null" if self.nullable else "")


@dataclass(frozen=True)
class ParamSpec:
    """One param role: allowed ``dtypes``; ``value_range`` bounds every element (inclusive);
    with ``when``, required exactly when ``when(attrs)`` holds."""

    dtypes: tuple[str, ...]
    value_range: tuple[int, int] | None = None
    when: Callable[[Mapping[str, Any]], bool] | None = None


@dataclass(frozen=True)
class OpSchema:
    """Schema of one op type. ``inputs`` is the exact number of activation inputs, or
    ``(min, None)`` for variadic ops."""

    type: str
    inputs: int | tuple[int, None]
    attrs: dict[str, AttrSpec]
    params: dict[str, ParamSpec]
    infer: Callable[[OpContext], TensorInfo]
    doc: str = ""
    macs: str = field(default="none")  # "binary" | "int8" | "float" | "none": what infer counts


class OpContext:
    """What an ``infer`` function sees: the op, its input infos and its param arrays."""

    def __init__(
        self,
        op: Op,
        index: int,
        inputs: list[TensorInfo],
        params: Mapping[str, np.ndarray],
    ):
        self.op = op
        self.index = index
        self.inputs = inputs
        self.params = params
        self.attrs = op.attrs

    def fail(self, field_name: str, message: str) -> NoReturn:
        raise op_error(self.op, self.index, field_name, message)

    def input(self, i: int, dtypes: tuple[str, ...], ranks: tuple[int, ...]) -> TensorInfo:
        """Input ``i``, checked to have one of ``dtypes`` and one of ``ranks``."""
        t = self.inputs[i]
        if t.dtype not in dtypes:
            self.fail(f"inputs[{i}]", f"tensor {t.name!r} has dtype {t.dtype}, expected "
                      + " or ".join(dtypes))
        if len(t.shape) not in ranks:
            self.fail(f"inputs[{i}]", f"tensor {t.name!r} has rank {len(t.shape)} "
                      f"(shape {list(t.shape)}), expected rank " + " or ".join(map(str, ranks)))
        return t

    def param(self, role: str) -> np.ndarray:
        return self.params[role]

    def expect_shape(self, role: str, shape: tuple[int, ...]) -> None:
        got = tuple(self.params[role].shape)
        if got != tuple(shape):
            self.fail(f"params.{role}", f"tensor {self.op.params[role]!r} has shape "
                      f"{list(got)}, expected {list(shape)}")

    def expect_rank(self, role: str, rank: int) -> tuple[int, ...]:
        shape = tuple(self.params[role].shape)
        if len(shape) != rank:
            self.fail(f"params.{role}", f"tensor {self.op.params[role]!r} has shape "
                      f"{list(shape)}, expected rank {rank}")
        if any(d == 0 for d in shape):
            self.fail(f"params.{role}", f"tensor {self.op.params[role]!r} has an empty "
                      f"dimension: shape {list(shape)}")
        return shape

    def expect_dtype(self, role: str, dtype: str) -> None:
        got = self.params[role].dtype
        if got != np.dtype(dtype):
            self.fail(f"params.{role}", f"tensor {self.op.params[role]!r} has dtype {got}, "
                      f"expected {dtype} here")

    def output(self, dtype: str, shape: tuple[int, ...], channels: int | None = None,
               groups: int | None = None) -> TensorInfo:
        return TensorInfo(self.op.outputs[0], dtype, tuple(shape), channels, groups)


def op_error(op: Op, index: int, field_name: str, message: str) -> FormatError:
    """A :class:`FormatError` that names op ``index`` (its name and type) and the field."""
    return FormatError(
        f"op #{index} {op.name!r} ({op.type}): {field_name}: {message}",
        op=op.name,
        field=field_name,
    )


# ----------------------------------------------------------------------------------------
# Shared rules
# ----------------------------------------------------------------------------------------

def _int(lo: int, hi: int, **kw: Any) -> AttrSpec:
    return AttrSpec("int", lo=lo, hi=hi, **kw)


def _is_packed_epilogue(a: Mapping[str, Any]) -> bool:
    return a.get("epilogue") == "packed"


def _epilogue_is(name: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda a: a.get("epilogue") == name


EPILOGUES = ("int32", "float", "int8", "packed")
SHIFT30 = (0, 30)
SHIFT62 = (0, 62)

EPILOGUE_ATTRS: dict[str, AttrSpec] = {
    "epilogue": AttrSpec("str", choices=EPILOGUES),
    "clamp_lo": _int(INT32_MIN, INT32_MAX, nullable=True),
    "clamp_hi": _int(INT32_MIN, INT32_MAX, nullable=True),
    "out_groups": _int(1, MAX_GROUPS, when=_is_packed_epilogue),
}
EPILOGUE_PARAMS: dict[str, ParamSpec] = {
    "scale": ParamSpec(("float32",), when=_epilogue_is("float")),
    "bias": ParamSpec(("float32",), when=_epilogue_is("float")),
    "M": ParamSpec(("int16",), when=_epilogue_is("int8")),
    "B": ParamSpec(("int32",), when=_epilogue_is("int8")),
    "s": ParamSpec(("int8",), value_range=SHIFT30, when=_epilogue_is("int8")),
    "T": ParamSpec(("int32",), when=_is_packed_epilogue),
}
POOL_ATTRS: dict[str, AttrSpec] = {
    "kernel": _int(1, MAX_KERNEL),
    "stride": _int(1, MAX_STRIDE),
    "padding": _int(0, MAX_PADDING),
}
CONV_ATTRS: dict[str, AttrSpec] = {
    "stride": _int(1, MAX_STRIDE),
    "padding": _int(0, MAX_PADDING),
}


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``(size + 2*padding - kernel) // stride + 1`` (0 or less: the kernel does not fit)."""
    return (size + 2 * padding - kernel) // stride + 1


def _spatial(ctx: OpContext, x: TensorInfo, kh: int, kw: int, field_name: str) -> tuple[int, int]:
    s, p = ctx.attrs["stride"], ctx.attrs["padding"]
    ho = conv_out_size(x.shape[1], kh, s, p)
    wo = conv_out_size(x.shape[2], kw, s, p)
    if ho < 1 or wo < 1:
        ctx.fail(field_name, f"kernel {kh}x{kw} does not fit the input {x.shape[1]}x"
                 f"{x.shape[2]} with padding {p}")
    return ho, wo


def _epilogue_out(ctx: OpContext, cout: int, prefix: tuple[int, ...]) -> TensorInfo:
    """Output of a bconv/bdense epilogue over ``cout`` channels; checks its params."""
    a = ctx.attrs
    lo, hi = a["clamp_lo"], a["clamp_hi"]
    if lo is not None and hi is not None and lo > hi:
        ctx.fail("attrs.clamp_lo", f"clamp_lo {lo} > clamp_hi {hi}")
    kind = a["epilogue"]
    if kind == "int32":
        return ctx.output("int32", (*prefix, cout))
    if kind == "float":
        for role in ("scale", "bias"):
            ctx.expect_shape(role, (cout,))
        return ctx.output("float32", (*prefix, cout))
    if kind == "int8":
        for role in ("M", "B", "s"):
            ctx.expect_shape(role, (cout,))
        return ctx.output("int8", (*prefix, cout))
    ctx.expect_shape("T", (cout,))
    og = a["out_groups"]
    if cout % og:
        ctx.fail("attrs.out_groups", f"out_groups {og} does not divide the {cout} output "
                 "channels")
    return ctx.output("packed", (*prefix, og * words_per_group(cout, og)), cout, og)


def _check_pad_bits(ctx: OpContext, role: str, bits: int) -> None:
    """Bits ``>= bits`` of the last word along the last axis must be 0 (docs/numerics.md §1)."""
    used = bits % 32
    if used == 0:
        return
    w = ctx.param(role)
    mask = np.uint32((0xFFFFFFFF << used) & 0xFFFFFFFF)
    if np.any(w[..., -1] & mask):
        ctx.fail(f"params.{role}", f"tensor {ctx.op.params[role]!r} has pad bits set beyond "
                 f"the {bits} channels of a group (pad bits must be 0)")


def _per_channel(ctx: OpContext, roles: tuple[str, ...], c: int) -> None:
    for role in roles:
        ctx.expect_shape(role, (c,))


# ----------------------------------------------------------------------------------------
# Binary ops
# ----------------------------------------------------------------------------------------

def _infer_pack(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("int8", "float32"), (2, 4))
    c, g = x.shape[-1], ctx.attrs["groups"]
    if c % g:
        ctx.fail("attrs.groups", f"groups {g} does not divide the {c} channels")
    ctx.expect_dtype("t", "int32" if x.dtype == "int8" else "float32")
    ctx.expect_shape("t", (c,))
    return ctx.output("packed", (*x.shape[:-1], g * words_per_group(c, g)), c, g)


def _infer_bconv(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("packed",), (4,))
    cout, kh, kw, wg = ctx.expect_rank("weights", 4)
    g = ctx.attrs["groups"]
    if x.groups != g:
        ctx.fail("attrs.groups", f"groups {g} but input {x.name!r} is packed for {x.groups} "
                 "groups")
    if cout % g:
        ctx.fail("attrs.groups", f"groups {g} does not divide the {cout} output channels")
    cg = x.channels // g
    if wg != words_per_group(x.channels, g):
        ctx.fail("params.weights", f"{wg} words per group, but {cg} input channels per group "
                 f"need {words_per_group(x.channels, g)}")
    if kh * kw * cg > MAX_BINARY_K:
        ctx.fail("params.weights", f"K = {kh}*{kw}*{cg} = {kh * kw * cg} exceeds {MAX_BINARY_K} "
                 "(16-bit binary accumulators, docs/numerics.md §4)")
    if ctx.attrs["pad_mode"] == "valid" and ctx.attrs["padding"] != 0:
        ctx.fail("attrs.padding", "pad_mode 'valid' requires padding 0")
    _check_pad_bits(ctx, "weights", cg)
    ho, wo = _spatial(ctx, x, kh, kw, "params.weights")
    return _epilogue_out(ctx, cout, (x.shape[0], ho, wo))


def _infer_bdense(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("packed",), (2,))
    if x.groups != 1:
        ctx.fail("inputs[0]", f"tensor {x.name!r} is packed for {x.groups} groups; bdense "
                 "needs 1")
    cout, w = ctx.expect_rank("weights", 2)
    if w != x.shape[-1]:
        ctx.fail("params.weights", f"{w} words per row, input {x.name!r} has {x.shape[-1]}")
    if x.channels > MAX_BINARY_K:
        ctx.fail("inputs[0]", f"K = {x.channels} input channels exceeds {MAX_BINARY_K} (16-bit "
                 "binary accumulators, docs/numerics.md §4)")
    _check_pad_bits(ctx, "weights", x.channels)
    return _epilogue_out(ctx, cout, (x.shape[0],))


def _pool_spatial(ctx: OpContext, x: TensorInfo) -> tuple[int, int]:
    k, p = ctx.attrs["kernel"], ctx.attrs["padding"]
    if 2 * p > k:
        ctx.fail("attrs.padding", f"padding {p} exceeds half the kernel {k}")
    return _spatial(ctx, x, k, k, "attrs.kernel")


def _infer_maxpool_packed(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("packed",), (4,))
    ho, wo = _pool_spatial(ctx, x)
    return ctx.output("packed", (x.shape[0], ho, wo, x.shape[3]), x.channels, x.groups)


# ----------------------------------------------------------------------------------------
# int8 glue
# ----------------------------------------------------------------------------------------

def _unary(in_dtype: str, out_dtype: str, roles: tuple[str, ...]) -> Callable[[OpContext],
                                                                              TensorInfo]:
    def infer(ctx: OpContext) -> TensorInfo:
        x = ctx.input(0, (in_dtype,), (2, 4))
        _per_channel(ctx, roles, x.shape[-1])
        return ctx.output(out_dtype, x.shape)
    return infer


def _binary_same(dtype: str, roles: tuple[str, ...]) -> Callable[[OpContext], TensorInfo]:
    def infer(ctx: OpContext) -> TensorInfo:
        a = ctx.input(0, (dtype,), (2, 4))
        b = ctx.input(1, (dtype,), (2, 4))
        if a.shape != b.shape:
            ctx.fail("inputs[1]", f"shape {list(b.shape)} of {b.name!r} differs from "
                     f"{list(a.shape)} of {a.name!r}")
        _per_channel(ctx, roles, a.shape[-1])
        return ctx.output(dtype, a.shape)
    return infer


def _pool(dtype: str, out_dtype: str) -> Callable[[OpContext], TensorInfo]:
    def infer(ctx: OpContext) -> TensorInfo:
        x = ctx.input(0, (dtype,), (4,))
        ho, wo = _pool_spatial(ctx, x)
        return ctx.output(out_dtype, (x.shape[0], ho, wo, x.shape[3]))
    return infer


def _global_pool(dtype: str, out_dtype: str) -> Callable[[OpContext], TensorInfo]:
    def infer(ctx: OpContext) -> TensorInfo:
        x = ctx.input(0, (dtype,), (4,))
        return ctx.output(out_dtype, (x.shape[0], x.shape[3]))
    return infer


def _expect_zp(ctx: OpContext, x_dtype: str, channels: int) -> None:
    """``zp`` has one value per input channel, each a value of the input's dtype (numerics
    §5: [0, 255] for uint8, [-128, 127] for int8)."""
    ctx.expect_shape("zp", (channels,))
    info = np.iinfo(x_dtype)
    zp = ctx.params["zp"]
    lo, hi = int(zp.min()), int(zp.max())
    if lo < info.min or hi > info.max:
        ctx.fail("params.zp", f"tensor {ctx.op.params['zp']!r} has values in [{lo}, {hi}], "
                 f"expected within [{info.min}, {info.max}] (the {x_dtype} input's range)")


def _conv(in_dtypes: tuple[str, ...], zp: bool, out_dtype: str
          ) -> Callable[[OpContext], TensorInfo]:
    def infer(ctx: OpContext) -> TensorInfo:
        x = ctx.input(0, in_dtypes, (4,))
        cout, kh, kw, cin = ctx.expect_rank("weights", 4)
        if cin != x.shape[3]:
            ctx.fail("params.weights", f"{cin} input channels, input {x.name!r} has "
                     f"{x.shape[3]}")
        ctx.expect_shape("bias", (cout,))
        if zp:
            _expect_zp(ctx, x.dtype, cin)
        ho, wo = _spatial(ctx, x, kh, kw, "params.weights")
        return ctx.output(out_dtype, (x.shape[0], ho, wo, cout))
    return infer


def _infer_dwconv2d_int8(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("uint8", "int8"), (4,))
    c = x.shape[3]
    cout, kh, kw = ctx.expect_rank("weights", 3)
    if cout % c:
        ctx.fail("params.weights", f"{cout} output channels is not a multiple of the {c} "
                 "input channels")
    ctx.expect_shape("bias", (cout,))
    _expect_zp(ctx, x.dtype, c)
    ho, wo = _spatial(ctx, x, kh, kw, "params.weights")
    return ctx.output("int32", (x.shape[0], ho, wo, cout))


def _dense(in_dtype: str, out_dtype: str) -> Callable[[OpContext], TensorInfo]:
    def infer(ctx: OpContext) -> TensorInfo:
        x = ctx.input(0, (in_dtype,), (2,))
        cout, cin = ctx.expect_rank("weights", 2)
        if cin != x.shape[1]:
            ctx.fail("params.weights", f"{cin} input features, input {x.name!r} has "
                     f"{x.shape[1]}")
        ctx.expect_shape("bias", (cout,))
        return ctx.output(out_dtype, (x.shape[0], cout))
    return infer


def _infer_concat(ctx: OpContext) -> TensorInfo:
    first = ctx.input(0, ("int8", "float32"), (2, 4))
    for i in range(1, len(ctx.inputs)):
        t = ctx.input(i, (first.dtype,), (len(first.shape),))
        if t.shape[:-1] != first.shape[:-1]:
            ctx.fail(f"inputs[{i}]", f"shape {list(t.shape)} of {t.name!r} does not match "
                     f"{list(first.shape)} of {first.name!r} outside the channel axis")
    total = sum(t.shape[-1] for t in ctx.inputs)
    return ctx.output(first.dtype, (*first.shape[:-1], total))


def _infer_flatten(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("int8", "int32", "float32"), (4,))
    return ctx.output(x.dtype, (x.shape[0], x.shape[1] * x.shape[2] * x.shape[3]))


# ----------------------------------------------------------------------------------------
# The catalogue
# ----------------------------------------------------------------------------------------

def _p(*dtypes: str, value_range: tuple[int, int] | None = None) -> ParamSpec:
    return ParamSpec(tuple(dtypes), value_range=value_range)


_REQUANT = {"M": _p("int16"), "B": _p("int32"), "s": _p("int8", value_range=SHIFT30)}
_REQUANT32 = {"M": _p("int32"), "B": _p("int64"), "s": _p("int8", value_range=SHIFT62)}
_ADD = {"Ma": _p("int16"), "Mb": _p("int16"), "B": _p("int32"),
        "s": _p("int8", value_range=SHIFT30)}
_PWL = {"t": _p("int32"), "Mp": _p("int16"), "Bp": _p("int32"), "Mn": _p("int16"),
        "Bn": _p("int32"), "s": _p("int8", value_range=SHIFT30)}
_PWL_F32 = {r: _p("float32") for r in ("t", "kp", "bp", "kn", "bn")}
_SCALE_BIAS = {"scale": _p("float32"), "bias": _p("float32")}

SCHEMAS: dict[str, OpSchema] = {
    s.type: s
    for s in [
        OpSchema("pack", 1, {"groups": _int(1, MAX_GROUPS)}, {"t": _p("int32", "float32")},
                 _infer_pack, "bit = x < t[c]; int8 x with int32 t, float32 x with float32 t"),
        OpSchema("bconv", 1,
                 {**CONV_ATTRS, "pad_mode": AttrSpec("str", choices=("zero", "one", "valid")),
                  "groups": _int(1, MAX_GROUPS), **EPILOGUE_ATTRS},
                 {"weights": _p("uint32"), **EPILOGUE_PARAMS},
                 _infer_bconv, "binary direct convolution with fused epilogue", "binary"),
        OpSchema("bdense", 1, dict(EPILOGUE_ATTRS),
                 {"weights": _p("uint32"), **EPILOGUE_PARAMS},
                 _infer_bdense, "binary dense with fused epilogue", "binary"),
        OpSchema("maxpool_packed", 1, dict(POOL_ATTRS), {}, _infer_maxpool_packed,
                 "max of ±1 = AND of bits over taps inside the image"),
        OpSchema("requant", 1, {}, _REQUANT, _unary("int8", "int8", tuple(_REQUANT)),
                 "int8 -> int8 fixed-point rescale"),
        OpSchema("requant32", 1, {}, _REQUANT32, _unary("int32", "int8", tuple(_REQUANT32)),
                 "int32 -> int8 fixed-point rescale (int64 intermediate)"),
        OpSchema("add", 2, {}, _ADD, _binary_same("int8", tuple(_ADD)),
                 "int8 + int8 -> int8 residual add"),
        OpSchema("pwl", 1, {}, _PWL, _unary("int8", "int8", tuple(_PWL)),
                 "per-channel piecewise-linear non-linearity, fixed point"),
        OpSchema("maxpool_int8", 1, dict(POOL_ATTRS), {}, _pool("int8", "int8"),
                 "max over taps inside the image"),
        OpSchema("sumpool_int8", 1, dict(POOL_ATTRS), {}, _pool("int8", "int32"),
                 "int32 sum over taps inside the image"),
        OpSchema("global_sumpool_int8", 1, {}, {}, _global_pool("int8", "int32"),
                 "int32 [N, C] sum over H*W"),
        OpSchema("conv2d_int8", 1, dict(CONV_ATTRS),
                 {"weights": _p("int8"), "bias": _p("int32"), "zp": _p("int32")},
                 _conv(("uint8", "int8"), True, "int32"),
                 "int8/uint8 conv with per-input-channel zero point, int32 out", "int8"),
        OpSchema("dwconv2d_int8", 1, dict(CONV_ATTRS),
                 {"weights": _p("int8"), "bias": _p("int32"), "zp": _p("int32")},
                 _infer_dwconv2d_int8, "depthwise int8 conv, channel multiplier m", "int8"),
        OpSchema("dense_int8", 1, {}, {"weights": _p("int8"), "bias": _p("int32")},
                 _dense("int8", "int32"), "int8 dense, int32 out", "int8"),
        OpSchema("concat", (2, None), {}, {}, _infer_concat, "concat along channels"),
        OpSchema("dequant", 1, {}, dict(_SCALE_BIAS), _unary("int32", "float32",
                                                              tuple(_SCALE_BIAS)),
                 "float32(x) * scale[c] + bias[c]"),
        OpSchema("scale_bias", 1, {}, dict(_SCALE_BIAS),
                 _unary("float32", "float32", tuple(_SCALE_BIAS)), "x * scale[c] + bias[c]"),
        OpSchema("add_f32", 2, {}, {}, _binary_same("float32", ()), "a + b"),
        OpSchema("pwl_f32", 1, {}, _PWL_F32, _unary("float32", "float32", tuple(_PWL_F32)),
                 "x >= t ? kp*x + bp : kn*x + bn"),
        OpSchema("conv2d_f32", 1, dict(CONV_ATTRS),
                 {"weights": _p("float32"), "bias": _p("float32")},
                 _conv(("float32",), False, "float32"), "float32 conv", "float"),
        OpSchema("dense_f32", 1, {}, {"weights": _p("float32"), "bias": _p("float32")},
                 _dense("float32", "float32"), "float32 dense", "float"),
        OpSchema("maxpool_f32", 1, dict(POOL_ATTRS), {}, _pool("float32", "float32"),
                 "max over taps inside the image"),
        OpSchema("avgpool_f32", 1, dict(POOL_ATTRS), {}, _pool("float32", "float32"),
                 "average pool, count_include_pad"),
        OpSchema("global_avgpool_f32", 1, {}, {}, _global_pool("float32", "float32"),
                 "mean over H*W"),
        OpSchema("flatten", 1, {}, {}, _infer_flatten, "[N,H,W,C] -> [N, H*W*C] (NHWC order)"),
    ]
}
