"""Op schemas: required attrs (type, range), params (dtype, shape, value range), inputs and
shape inference for every op of docs/numerics.md.

Each :class:`OpSchema` lists its attrs and params declaratively, built from the op manifest
(:mod:`bnnflow.graph.manifest`, the one definition the C++ validator is generated from too);
its ``infer`` function, code written here and once more in ``csrc/engine/validate.cc``,
checks what depends on the inputs (ranks, dtypes, channel counts, param shapes) and returns
the output's :class:`~bnnflow.graph.ir.TensorInfo`. Every violation raises
:class:`~bnnflow.errors.FormatError` naming the op and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from bnnflow.errors import FormatError
from bnnflow.graph import manifest
from bnnflow.graph.ir import Op, TensorInfo, words_per_group
from bnnflow.graph.padding import out_size, padding_text, pads

INT32_MIN, INT32_MAX = manifest.INT32_MIN, manifest.INT32_MAX
#: Sanity bounds that keep hostile files from asking for absurd shapes or loops.
MAX_KERNEL = manifest.LIMITS["MAX_KERNEL"]
MAX_STRIDE = manifest.LIMITS["MAX_STRIDE"]
MAX_PADDING = manifest.LIMITS["MAX_PADDING"]
MAX_GROUPS = manifest.LIMITS["MAX_GROUPS"]
#: Binary accumulators are exact in 16 bits (docs/numerics.md §4): K = KH*KW*Cg < 65536.
MAX_BINARY_K = manifest.LIMITS["MAX_BINARY_K"]


@dataclass(frozen=True)
class Condition:
    """``attrs[attr]`` is one of the strings ``values`` (a manifest ``when``)."""

    attr: str
    values: tuple[str, ...]

    def __call__(self, attrs: Mapping[str, Any]) -> bool:
        v = attrs.get(self.attr)
        return isinstance(v, str) and v in self.values

    @staticmethod
    def from_manifest(when: Mapping[str, Any] | None) -> Condition | None:
        return None if when is None else Condition(when["attr"], tuple(when["in"]))


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: ``kind`` is ``"int"`` or ``"str"``.

    ``lo``/``hi`` bound ints (inclusive), ``choices`` restricts strings, ``nullable`` allows
    ``None``; ``sides`` (``padding``) also allows a list ``[top, left, bottom, right]`` of such
    ints. With ``when``, the attr is required exactly when ``when(attrs)`` holds and must be
    absent otherwise.
    """

    kind: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    when: Condition | None = None
    sides: bool = False

    def describe(self) -> str:
        if self.kind == "str":
            text = "one of " + ", ".join(repr(c) for c in self.choices or ())
        else:
            text = f"int in [{self.lo}, {self.hi}]"
            if self.sides:
                text += " or a list [top, left, bottom, right] of them"
        return text + (" or null" if self.nullable else "")


@dataclass(frozen=True)
class ParamSpec:
    """One param role: allowed ``dtypes``; ``value_range`` bounds every element (inclusive);
    with ``when``, required exactly when ``when(attrs)`` holds."""

    dtypes: tuple[str, ...]
    value_range: tuple[int, int] | None = None
    when: Condition | None = None


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

def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``(size + 2*padding - kernel) // stride + 1`` (0 or less: the kernel does not fit)."""
    return (size + 2 * padding - kernel) // stride + 1


def _spatial(ctx: OpContext, x: TensorInfo, kh: int, kw: int, field_name: str) -> tuple[int, int]:
    s = ctx.attrs["stride"]
    top, left, bottom, right = pads(ctx.attrs)
    ho = out_size(x.shape[1], kh, s, top, bottom)
    wo = out_size(x.shape[2], kw, s, left, right)
    if ho < 1 or wo < 1:
        ctx.fail(field_name, f"kernel {kh}x{kw} does not fit the input {x.shape[1]}x"
                 f"{x.shape[2]} with padding {padding_text(ctx.attrs['padding'])}")
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
    if ctx.attrs["pad_mode"] == "valid" and any(pads(ctx.attrs)):
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
    if 2 * max(pads(ctx.attrs)) > k:
        ctx.fail("attrs.padding", f"padding {padding_text(p)} exceeds half the kernel {k}")
    return _spatial(ctx, x, k, k, "attrs.kernel")


def _infer_maxpool_packed(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("packed",), (4,))
    ho, wo = _pool_spatial(ctx, x)
    return ctx.output("packed", (x.shape[0], ho, wo, x.shape[3]), x.channels, x.groups)


# ----------------------------------------------------------------------------------------
# int8 glue
# ----------------------------------------------------------------------------------------

def _unary(in_dtype: str, out_dtype: str) -> Callable[[OpContext], TensorInfo]:
    """Elementwise over ``[N, C]`` / ``[N, H, W, C]``; every param has one value per channel
    (checked in the manifest's param order)."""
    def infer(ctx: OpContext) -> TensorInfo:
        x = ctx.input(0, (in_dtype,), (2, 4))
        _per_channel(ctx, tuple(ctx.params), x.shape[-1])
        return ctx.output(out_dtype, x.shape)
    return infer


def _binary_same(dtype: str) -> Callable[[OpContext], TensorInfo]:
    """Two inputs of one shape; every param has one value per channel."""
    def infer(ctx: OpContext) -> TensorInfo:
        a = ctx.input(0, (dtype,), (2, 4))
        b = ctx.input(1, (dtype,), (2, 4))
        if a.shape != b.shape:
            ctx.fail("inputs[1]", f"shape {list(b.shape)} of {b.name!r} differs from "
                     f"{list(a.shape)} of {a.name!r}")
        _per_channel(ctx, tuple(ctx.params), a.shape[-1])
        return ctx.output(dtype, a.shape)
    return infer


def _infer_mul_f32(ctx: OpContext) -> TensorInfo:
    """``a`` ``[N, C]`` or ``[N, H, W, C]``; ``b`` of ``a``'s shape, or ``[N, C]`` (one
    factor per sample and channel, broadcast over H and W: a gate vector)."""
    a = ctx.input(0, ("float32",), (2, 4))
    b = ctx.input(1, ("float32",), (2, 4))
    if len(a.shape) == 2 and b.shape != a.shape:
        ctx.fail("inputs[1]", f"shape {list(b.shape)} of {b.name!r} is not {list(a.shape)}, the "
                 f"shape of {a.name!r} (a [N, C] gate broadcasts only over a 4-D inputs[0])")
    if b.shape != a.shape and b.shape != (a.shape[0], a.shape[-1]):
        ctx.fail("inputs[1]", f"shape {list(b.shape)} of {b.name!r} is neither "
                 f"{list(a.shape)} nor [N, C] = {[a.shape[0], a.shape[-1]]} of {a.name!r}")
    return ctx.output("float32", a.shape)


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


def _infer_channel_shuffle(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("int8", "float32"), (2, 4))
    c, g = x.shape[-1], ctx.attrs["groups"]
    if c % g:
        ctx.fail("attrs.groups", f"groups {g} does not divide the {c} channels")
    return ctx.output(x.dtype, x.shape)


def _infer_flatten(ctx: OpContext) -> TensorInfo:
    x = ctx.input(0, ("int8", "int32", "float32"), (4,))
    return ctx.output(x.dtype, (x.shape[0], x.shape[1] * x.shape[2] * x.shape[3]))


# ----------------------------------------------------------------------------------------
# The catalogue: the manifest's declarations + the infer functions above
# ----------------------------------------------------------------------------------------

#: op type -> shape inference (the one part of an op's schema that is code).
INFER: dict[str, Callable[[OpContext], TensorInfo]] = {
    "pack": _infer_pack,
    "bconv": _infer_bconv,
    "bdense": _infer_bdense,
    "maxpool_packed": _infer_maxpool_packed,
    "requant": _unary("int8", "int8"),
    "requant32": _unary("int32", "int8"),
    "add": _binary_same("int8"),
    "pwl": _unary("int8", "int8"),
    "maxpool_int8": _pool("int8", "int8"),
    "sumpool_int8": _pool("int8", "int32"),
    "global_sumpool_int8": _global_pool("int8", "int32"),
    "conv2d_int8": _conv(("uint8", "int8"), True, "int32"),
    "dwconv2d_int8": _infer_dwconv2d_int8,
    "dense_int8": _dense("int8", "int32"),
    "concat": _infer_concat,
    "dequant": _unary("int32", "float32"),
    "scale_bias": _unary("float32", "float32"),
    "add_f32": _binary_same("float32"),
    "pwl_f32": _unary("float32", "float32"),
    "conv2d_f32": _conv(("float32",), False, "float32"),
    "dense_f32": _dense("float32", "float32"),
    "maxpool_f32": _pool("float32", "float32"),
    "avgpool_f32": _pool("float32", "float32"),
    "global_avgpool_f32": _global_pool("float32", "float32"),
    "flatten": _infer_flatten,
    "channel_shuffle": _infer_channel_shuffle,
    "sigmoid_f32": _unary("float32", "float32"),
    "mul_f32": _infer_mul_f32,
}


def attr_spec(entry: Mapping[str, Any]) -> AttrSpec:
    """The :class:`AttrSpec` of one manifest attr entry."""
    choices = entry.get("choices")
    return AttrSpec(entry["kind"], lo=entry.get("lo"), hi=entry.get("hi"),
                    choices=None if choices is None else tuple(choices),
                    nullable=entry.get("nullable", False),
                    when=Condition.from_manifest(entry.get("when")),
                    sides=entry.get("sides", False))


def param_spec(entry: Mapping[str, Any]) -> ParamSpec:
    """The :class:`ParamSpec` of one manifest param entry."""
    vr = entry.get("range")
    return ParamSpec(tuple(entry["dtypes"]), value_range=None if vr is None else (vr[0], vr[1]),
                     when=Condition.from_manifest(entry.get("when")))


def schema_from_manifest(entry: Mapping[str, Any]) -> OpSchema:
    """The :class:`OpSchema` of one manifest op entry, with its infer function from
    :data:`INFER`."""
    n = entry["inputs"]
    inputs: int | tuple[int, None] = n if isinstance(n, int) else (n["min"], None)
    infer = INFER.get(entry["type"])
    if infer is None:
        raise LookupError(f"op type {entry['type']!r} of the manifest has no infer function in "
                          "bnnflow.graph.schema.INFER")
    return OpSchema(entry["type"], inputs, {a["name"]: attr_spec(a) for a in entry["attrs"]},
                    {p["role"]: param_spec(p) for p in entry["params"]}, infer,
                    entry.get("doc", ""), entry.get("macs", "none"))


SCHEMAS: dict[str, OpSchema] = {e["type"]: schema_from_manifest(e) for e in manifest.OPS}
if set(INFER) != set(SCHEMAS):
    raise LookupError("infer functions without a manifest entry: "
                      f"{sorted(set(INFER) - set(SCHEMAS))}")
