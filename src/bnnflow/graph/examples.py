"""Small valid graphs with random params: one per op type, and two tiny whole models.

Used by the tests of format, reference and runtime (engine == reference on every op) and as
worked examples of the IR. Every graph ends in float32 logits ``[N, classes]``.

:func:`op_case` builds ``input -> (ops that make the tested op's input) -> op "op" -> (ops
that turn its output into float32 logits)``; the tested op's output tensor is named
``"op"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bnnflow.graph.builder import GraphBuilder
from bnnflow.graph.ir import Graph, InputSpec
from bnnflow.graph.padding import as_pads, out_size

Params = dict[str, np.ndarray]
Rng = np.random.Generator


def packed_weights(rng: Rng, shape_prefix: tuple[int, ...], bits: int) -> np.ndarray:
    """Random packed ±1 weights ``[*prefix, ceil(bits/32)]`` with pad bits 0."""
    words = -(-bits // 32)
    w = rng.integers(0, 2**32, size=(*shape_prefix, words), dtype=np.uint64).astype(np.uint32)
    if bits % 32:
        w[..., -1] &= np.uint32((1 << (bits % 32)) - 1)
    return w


def grouped_packed_weights(rng: Rng, cout: int, kh: int, kw: int, cin: int, groups: int
                           ) -> np.ndarray:
    """Random packed bconv weights ``[Cout, KH, KW, Wg]`` (pad bits 0)."""
    return packed_weights(rng, (cout, kh, kw), cin // groups)


def _i(rng: Rng, lo: int, hi: int, n: int, dtype: type) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=n).astype(dtype)


def requant_params(rng: Rng, c: int) -> Params:
    """int8 requant params that exercise rounding and saturation (no int32 overflow)."""
    return {"M": _i(rng, -3000, 3000, c, np.int16), "B": _i(rng, -40000, 40000, c, np.int32),
            "s": _i(rng, 0, 12, c, np.int8)}


def requant32_params(rng: Rng, c: int) -> Params:
    return {"M": _i(rng, -(2**20), 2**20, c, np.int32),
            "B": _i(rng, -(2**30), 2**30, c, np.int64), "s": _i(rng, 10, 30, c, np.int8)}


def epilogue_params(rng: Rng, epilogue: str, cout: int, k: int) -> Params:
    """Params of a bconv/bdense epilogue over ``cout`` channels for sums in ``[-k, k]``."""
    if epilogue == "float":
        return {"scale": rng.standard_normal(cout).astype(np.float32),
                "bias": rng.standard_normal(cout).astype(np.float32)}
    if epilogue == "int8":
        return requant_params(rng, cout)
    if epilogue == "packed":
        t = _i(rng, -k, k, cout, np.int32)
        if cout >= 3:
            t[0], t[1] = np.iinfo(np.int32).min, np.iinfo(np.int32).max
        return {"T": t}
    return {}


def epilogue_attrs(epilogue: str, clamp: tuple[int | None, int | None] = (None, None),
                   out_groups: int = 1) -> dict[str, Any]:
    attrs: dict[str, Any] = {"epilogue": epilogue, "clamp_lo": clamp[0], "clamp_hi": clamp[1]}
    if epilogue == "packed":
        attrs["out_groups"] = out_groups
    return attrs


# ----------------------------------------------------------------------------------------
# Inputs of the tested op, and tails to float logits
# ----------------------------------------------------------------------------------------

def _source(b: GraphBuilder, rng: Rng, kind: str, c: int, groups: int) -> str:
    """A tensor of ``kind`` (``int8``, ``int32``, ``packed``, ``packed2``, input dtypes) made
    from the graph input."""
    x = b.input
    if kind == "int32":
        return b.add("sumpool_int8", "src", [x], {"kernel": 1, "stride": 1, "padding": 0})
    if kind in ("packed", "packed2"):
        return b.add("pack", "src", [x], {"groups": groups}, t=_i(rng, -20, 20, c, np.int32))
    return x


def _tail(b: GraphBuilder, rng: Rng, y: str, dtype: str, rank: int, c: int,
          groups: int, features: int) -> tuple[str, int]:
    """Ops from tensor ``y`` (``c`` channels, ``features`` elements per sample) to float32
    logits; returns (logits name, classes)."""
    f32 = np.float32
    if dtype == "packed":
        if rank == 2:
            y = b.add("bdense", "tail.bdense", [y], epilogue_attrs("float"),
                      weights=packed_weights(rng, (5,), c), **epilogue_params(rng, "float", 5, c))
            return y, 5
        y = b.add("bconv", "tail.bconv", [y],
                  {"stride": 1, "padding": 0, "pad_mode": "valid", "groups": groups,
                   **epilogue_attrs("float")},
                  weights=grouped_packed_weights(rng, groups * 2, 1, 1, c, groups),
                  **epilogue_params(rng, "float", groups * 2, c))
        return b.add("global_avgpool_f32", "tail.pool", [y]), groups * 2
    if dtype == "int8" and rank == 4:
        y = b.add("sumpool_int8", "tail.widen", [y], {"kernel": 1, "stride": 1, "padding": 0})
        dtype = "int32"
    if dtype == "int8":
        y = b.add("dense_int8", "tail.widen", [y], weights=np.eye(c, dtype=np.int8),
                  bias=np.zeros(c, np.int32))
        dtype = "int32"
    if rank == 4:
        y = b.add("flatten", "tail.flatten", [y])
    if dtype == "int32":
        y = b.add("dequant", "tail.dequant", [y], scale=np.full(features, 0.5, f32),
                  bias=np.zeros(features, f32))
    return y, features


# ----------------------------------------------------------------------------------------
# One maker per op type: (rng, builder, source tensor, dims) -> (output name, out dtype, rank,
# out channels, out groups, out spatial elements)
# ----------------------------------------------------------------------------------------

class Dims:
    """Shape parameters of one case: spatial ``h x w``, channels ``c``, groups ``g``."""

    def __init__(self, h: int, w: int, c: int, g: int):
        self.h, self.w, self.c, self.g = h, w, c, g


Out = tuple[str, str, int, int, int, int]  # name, dtype, rank, channels, groups, spatial
Maker = Callable[[Rng, GraphBuilder, str, Dims, dict[str, Any]], Out]


def _spatial_out(d: Dims, k: int, s: int, p: int | list[int]) -> int:
    """Ho·Wo for ``padding`` ``p`` (an int or ``[top, left, bottom, right]``)."""
    top, left, bottom, right = as_pads(p)
    return out_size(d.h, k, s, top, bottom) * out_size(d.w, k, s, left, right)


def _make_pack(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    g = o.get("groups", d.g)
    if o.get("dtype", "int8") == "float32":
        t = rng.standard_normal(d.c).astype(np.float32)
    else:
        t = _i(rng, -20, 20, d.c, np.int32)
    b.add("pack", "op", [x], {"groups": g}, t=t)
    return "op", "packed", o.get("rank", 4), d.c, g, d.h * d.w


def _make_bconv(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    k, s, p = o.get("kernel", 3), o.get("stride", 1), o.get("padding", 1)
    mode = o.get("pad_mode", "zero")
    p = 0 if mode == "valid" else p  # `padding`: an int or [top, left, bottom, right]
    cout, epi = o.get("cout", 2 * d.g * 3), o.get("epilogue", "int32")
    og = o.get("out_groups", 1)
    kk = k * k * (d.c // d.g)
    attrs = {"stride": s, "padding": p, "pad_mode": mode, "groups": d.g,
             **epilogue_attrs(epi, o.get("clamp", (None, None)), og)}
    b.add("bconv", "op", [x], attrs, weights=grouped_packed_weights(rng, cout, k, k, d.c, d.g),
          **epilogue_params(rng, epi, cout, kk))
    dtype = {"int32": "int32", "float": "float32", "int8": "int8", "packed": "packed"}[epi]
    return "op", dtype, 4, cout, og, _spatial_out(d, k, s, p)


def _make_bdense(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    cout, epi = o.get("cout", 7), o.get("epilogue", "int32")
    attrs = epilogue_attrs(epi, o.get("clamp", (None, None)), 1)
    b.add("bdense", "op", [x], attrs, weights=packed_weights(rng, (cout,), d.c),
          **epilogue_params(rng, epi, cout, d.c))
    dtype = {"int32": "int32", "float": "float32", "int8": "int8", "packed": "packed"}[epi]
    return "op", dtype, 2, cout, 1, 1


def _pool_maker(op_type: str, dtype: str, out_dtype: str) -> Maker:
    def make(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
        k, s, p = o.get("kernel", 3), o.get("stride", 2), o.get("padding", 1)
        b.add(op_type, "op", [x], {"kernel": k, "stride": s, "padding": p})
        return "op", out_dtype, 4, d.c, d.g, _spatial_out(d, k, s, p)
    return make


def _global_maker(op_type: str, out_dtype: str) -> Maker:
    def make(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
        b.add(op_type, "op", [x])
        return "op", out_dtype, 2, d.c, 1, 1
    return make


def _elementwise_maker(op_type: str, out_dtype: str, params: Callable[[Rng, int], Params]
                       ) -> Maker:
    def make(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
        b.add(op_type, "op", [x], **params(rng, d.c))
        rank = o.get("rank", 4)
        return "op", out_dtype, rank, d.c, 1, d.h * d.w if rank == 4 else 1
    return make


def _pwl_params(rng: Rng, c: int) -> Params:
    return {"t": _i(rng, -20, 20, c, np.int32), "Mp": _i(rng, -3000, 3000, c, np.int16),
            "Bp": _i(rng, -40000, 40000, c, np.int32), "Mn": _i(rng, -3000, 3000, c, np.int16),
            "Bn": _i(rng, -40000, 40000, c, np.int32), "s": _i(rng, 0, 12, c, np.int8)}


def _pwl_f32_params(rng: Rng, c: int) -> Params:
    return {r: rng.standard_normal(c).astype(np.float32) for r in ("t", "kp", "bp", "kn", "bn")}


def _scale_bias_params(rng: Rng, c: int) -> Params:
    return {"scale": rng.standard_normal(c).astype(np.float32),
            "bias": rng.standard_normal(c).astype(np.float32)}


def _make_add(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    y = b.add("requant", "other", [x], **requant_params(rng, d.c))
    p = requant_params(rng, d.c)
    b.add("add", "op", [x, y], Ma=p["M"], Mb=_i(rng, -3000, 3000, d.c, np.int16), B=p["B"],
          s=p["s"])
    rank = o.get("rank", 4)
    return "op", "int8", rank, d.c, 1, d.h * d.w if rank == 4 else 1


def _make_add_f32(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    y = b.add("scale_bias", "other", [x], **_scale_bias_params(rng, d.c))
    b.add("add_f32", "op", [x, y])
    rank = o.get("rank", 4)
    return "op", "float32", rank, d.c, 1, d.h * d.w if rank == 4 else 1


def _make_mul_f32(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    """Rank 4: ``x`` times a per-sample gate ``sigmoid(scale_bias(global_avgpool(x)))``
    (``b`` of shape ``[N, C]``, RealToBinaryNet's form); rank 2: ``x`` times an affine map of
    itself (same shape)."""
    rank = o.get("rank", 4)
    if rank == 4:
        g = b.add("global_avgpool_f32", "gate.pool", [x])
        g = b.add("scale_bias", "gate.affine", [g], **_scale_bias_params(rng, d.c))
        y = b.add("sigmoid_f32", "gate", [g])
    else:
        y = b.add("scale_bias", "other", [x], **_scale_bias_params(rng, d.c))
    b.add("mul_f32", "op", [x, y])
    return "op", "float32", rank, d.c, 1, d.h * d.w if rank == 4 else 1


def _sigmoid_params(rng: Rng, c: int) -> Params:
    return {}


def _make_concat(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    dtype = o.get("dtype", "int8")
    if dtype == "int8":
        y = b.add("requant", "other", [x], **requant_params(rng, d.c))
    else:
        y = b.add("scale_bias", "other", [x], **_scale_bias_params(rng, d.c))
    b.add("concat", "op", [x, y, x])
    rank = o.get("rank", 4)
    return "op", dtype, rank, 3 * d.c, 1, d.h * d.w if rank == 4 else 1


def _make_channel_shuffle(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]
                          ) -> Out:
    g = o.get("shuffle_groups", 2 if d.c % 2 == 0 else 1)
    b.add("channel_shuffle", "op", [x], {"groups": g})
    rank = o.get("rank", 4)
    return "op", o.get("dtype", "int8"), rank, d.c, 1, d.h * d.w if rank == 4 else 1


def _conv_maker(op_type: str) -> Maker:
    def make(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
        k, s, p = o.get("kernel", 3), o.get("stride", 1), o.get("padding", 1)
        cout = o.get("cout", 5)
        attrs = {"stride": s, "padding": p}
        if op_type == "conv2d_f32":
            b.add(op_type, "op", [x], attrs,
                  weights=rng.standard_normal((cout, k, k, d.c)).astype(np.float32),
                  bias=rng.standard_normal(cout).astype(np.float32))
            return "op", "float32", 4, cout, 1, _spatial_out(d, k, s, p)
        signed = o.get("input_dtype", "uint8") == "int8"
        zp = _i(rng, -128, 127, d.c, np.int32) if signed else _i(rng, 0, 255, d.c, np.int32)
        if op_type == "dwconv2d_int8":
            cout = d.c * o.get("multiplier", 2)
            w = _i(rng, -128, 127, cout * k * k, np.int8).reshape(cout, k, k)
        else:
            w = _i(rng, -128, 127, cout * k * k * d.c, np.int8).reshape(cout, k, k, d.c)
        b.add(op_type, "op", [x], attrs, weights=w, bias=_i(rng, -5000, 5000, cout, np.int32),
              zp=zp)
        return "op", "int32", 4, cout, 1, _spatial_out(d, k, s, p)
    return make


def _dense_maker(op_type: str) -> Maker:
    def make(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
        cout = o.get("cout", 6)
        if op_type == "dense_f32":
            b.add(op_type, "op", [x], weights=rng.standard_normal((cout, d.c)).astype(np.float32),
                  bias=rng.standard_normal(cout).astype(np.float32))
            return "op", "float32", 2, cout, 1, 1
        b.add(op_type, "op", [x], weights=_i(rng, -128, 127, cout * d.c, np.int8).reshape(
            cout, d.c), bias=_i(rng, -5000, 5000, cout, np.int32))
        return "op", "int32", 2, cout, 1, 1
    return make


def _make_flatten(rng: Rng, b: GraphBuilder, x: str, d: Dims, o: dict[str, Any]) -> Out:
    b.add("flatten", "op", [x])
    return "op", o.get("dtype", "float32"), 2, d.h * d.w * d.c, 1, 1


def _dequant_params(rng: Rng, c: int) -> Params:
    return {"scale": (rng.random(c) * 0.1).astype(np.float32),
            "bias": rng.standard_normal(c).astype(np.float32)}


#: op type -> (maker, source kind (the dtype the op reads), default rank of its input)
MAKERS: dict[str, tuple[Maker, str, int]] = {
    "pack": (_make_pack, "int8", 4),
    "bconv": (_make_bconv, "packed", 4),
    "bdense": (_make_bdense, "packed", 2),
    "maxpool_packed": (_pool_maker("maxpool_packed", "packed", "packed"), "packed", 4),
    "requant": (_elementwise_maker("requant", "int8", requant_params), "int8", 4),
    "requant32": (_elementwise_maker("requant32", "int8", requant32_params), "int32", 4),
    "add": (_make_add, "int8", 4),
    "pwl": (_elementwise_maker("pwl", "int8", _pwl_params), "int8", 4),
    "maxpool_int8": (_pool_maker("maxpool_int8", "int8", "int8"), "int8", 4),
    "sumpool_int8": (_pool_maker("sumpool_int8", "int8", "int32"), "int8", 4),
    "global_sumpool_int8": (_global_maker("global_sumpool_int8", "int32"), "int8", 4),
    "conv2d_int8": (_conv_maker("conv2d_int8"), "uint8", 4),
    "dwconv2d_int8": (_conv_maker("dwconv2d_int8"), "uint8", 4),
    "dense_int8": (_dense_maker("dense_int8"), "int8", 2),
    "concat": (_make_concat, "int8", 4),
    "channel_shuffle": (_make_channel_shuffle, "int8", 4),
    "dequant": (_elementwise_maker("dequant", "float32", _dequant_params), "int32", 4),
    "scale_bias": (_elementwise_maker("scale_bias", "float32", _scale_bias_params),
                   "float32", 4),
    "add_f32": (_make_add_f32, "float32", 4),
    "pwl_f32": (_elementwise_maker("pwl_f32", "float32", _pwl_f32_params), "float32", 4),
    "sigmoid_f32": (_elementwise_maker("sigmoid_f32", "float32", _sigmoid_params), "float32",
                    4),
    "mul_f32": (_make_mul_f32, "float32", 4),
    "conv2d_f32": (_conv_maker("conv2d_f32"), "float32", 4),
    "dense_f32": (_dense_maker("dense_f32"), "float32", 2),
    "maxpool_f32": (_pool_maker("maxpool_f32", "float32", "float32"), "float32", 4),
    "avgpool_f32": (_pool_maker("avgpool_f32", "float32", "float32"), "float32", 4),
    "global_avgpool_f32": (_global_maker("global_avgpool_f32", "float32"), "float32", 4),
    "flatten": (_make_flatten, "float32", 4),
}


def op_case(op_type: str, rng: Rng, *, h: int = 6, w: int = 5, c: int = 6, groups: int = 1,
            **options: Any) -> tuple[Graph, dict[str, np.ndarray]]:
    """A graph that exercises one op ``op_type`` (output tensor ``"op"``) on an input of
    ``h x w x c`` (or ``[N, c]`` for rank-2 ops); ``options`` override the op's attrs
    (``kernel``, ``stride``, ``padding``, ``pad_mode``, ``epilogue``, ``clamp``, ``cout``,
    ``out_groups``, ``multiplier``, ``rank``, ``dtype``, ``input_dtype``, ``shuffle_groups``)."""
    maker, kind, rank = MAKERS[op_type]
    rank = options.get("rank", rank)
    if op_type in ("concat", "flatten", "pack", "channel_shuffle") and "dtype" in options:
        kind = options["dtype"]
    if op_type in ("conv2d_int8", "dwconv2d_int8"):
        kind = options.get("input_dtype", kind)
    in_dtype = {"packed": "int8", "int32": "int8"}.get(kind, kind)
    shape = (-1, h, w, c) if rank == 4 else (-1, c)
    b = GraphBuilder(InputSpec("x", shape, in_dtype), "float" if in_dtype == "float32" else "int8")
    src = _source(b, rng, kind, c, groups)
    name, dtype, out_rank, oc, og, spatial = maker(rng, b, src, Dims(h, w, c, groups), options)
    logits, classes = _tail(b, rng, name, dtype, out_rank, oc, og, oc * spatial)
    return b.build(logits, classes)


def random_input(rng: Rng, graph: Graph, batch: int) -> np.ndarray:
    """A random input batch matching ``graph.input_spec`` (full dtype range)."""
    spec = graph.input_spec
    shape = (batch, *spec.shape[1:])
    if spec.dtype == "float32":
        return rng.standard_normal(shape).astype(np.float32)
    info = np.iinfo(spec.dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(spec.dtype)


# ----------------------------------------------------------------------------------------
# Two tiny whole models
# ----------------------------------------------------------------------------------------

def tiny_int8_model(rng: Rng, classes: int = 10) -> tuple[Graph, dict[str, np.ndarray]]:
    """uint8 8x8x1 image -> int8 stem -> two binary blocks with a residual, PReLU-like pwl,
    packed max pool, grouped bconv -> global sum pool -> int8 classifier -> float logits."""
    b = GraphBuilder(InputSpec("image", (-1, 8, 8, 1), "uint8",
                               normalisation={"mean": [33.3], "std": [78.6]},
                               description="8x8 grey digit, 0..255"))
    c = 32
    h = b.add("conv2d_int8", "stem.conv", [b.input], {"stride": 1, "padding": 1},
              weights=_i(rng, -128, 127, c * 9, np.int8).reshape(c, 3, 3, 1),
              bias=_i(rng, -500, 500, c, np.int32), zp=np.array([33], np.int32))
    h = b.add("requant32", "stem.requant", [h], **requant32_params(rng, c))
    p = b.add("pack", "block1.sign", [h], {"groups": 1}, t=_i(rng, -5, 5, c, np.int32))
    y = b.add("bconv", "block1.conv", [p],
              {"stride": 1, "padding": 1, "pad_mode": "zero", "groups": 1,
               **epilogue_attrs("int8", (-100, None))},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    p2 = requant_params(rng, c)
    h = b.add("add", "block1.add", [y, h], Ma=p2["M"], Mb=_i(rng, 1000, 3000, c, np.int16),
              B=p2["B"], s=p2["s"])
    h = b.add("pwl", "block1.prelu", [h], **_pwl_params(rng, c))
    p = b.add("pack", "block2.sign", [h], {"groups": 4}, t=_i(rng, -5, 5, c, np.int32))
    p = b.add("bconv", "block2.conv", [p],
              {"stride": 1, "padding": 1, "pad_mode": "one", "groups": 4,
               **epilogue_attrs("packed", out_groups=1)},
              weights=grouped_packed_weights(rng, 2 * c, 3, 3, c, 4),
              **epilogue_params(rng, "packed", 2 * c, 9 * c // 4))
    p = b.add("maxpool_packed", "block2.pool", [p], {"kernel": 2, "stride": 2, "padding": 0})
    y = b.add("bconv", "block3.conv", [p],
              {"stride": 2, "padding": 1, "pad_mode": "zero", "groups": 1,
               **epilogue_attrs("int8")},
              weights=grouped_packed_weights(rng, c, 3, 3, 2 * c, 1),
              **epilogue_params(rng, "int8", c, 18 * c))
    y = b.add("global_sumpool_int8", "pool", [y])
    y = b.add("requant32", "pool.requant", [y], **requant32_params(rng, c))
    y = b.add("dense_int8", "fc", [y], weights=_i(rng, -128, 127, classes * c, np.int8).reshape(
        classes, c), bias=_i(rng, -1000, 1000, classes, np.int32))
    y = b.add("dequant", "logits", [y], scale=np.full(classes, 0.01, np.float32),
              bias=np.zeros(classes, np.float32))
    return b.build(y, classes, [str(i) for i in range(classes)])


def tiny_float_model(rng: Rng, classes: int = 4) -> tuple[Graph, dict[str, np.ndarray]]:
    """float32 6x6x3 input -> float stem -> binary block (float epilogue, residual, two-sided
    PReLU) -> max pool -> binary conv -> global average pool -> float classifier."""
    b = GraphBuilder(InputSpec("x", (-1, 6, 6, 3), "float32", description="normalised"),
                     "float")
    c = 8
    h = b.add("conv2d_f32", "stem", [b.input], {"stride": 1, "padding": 1},
              weights=rng.standard_normal((c, 3, 3, 3)).astype(np.float32),
              bias=rng.standard_normal(c).astype(np.float32))
    h = b.add("scale_bias", "stem.bn", [h], **_scale_bias_params(rng, c))
    p = b.add("pack", "block.sign", [h], {"groups": 1},
              t=(0.1 * rng.standard_normal(c)).astype(np.float32))
    y = b.add("bconv", "block.conv", [p],
              {"stride": 1, "padding": 1, "pad_mode": "zero", "groups": 1,
               **epilogue_attrs("float")},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "float", c, 9 * c))
    h = b.add("add_f32", "block.add", [y, h])
    h = b.add("pwl_f32", "block.prelu", [h], **_pwl_f32_params(rng, c))
    h = b.add("maxpool_f32", "pool", [h], {"kernel": 2, "stride": 2, "padding": 0})
    p = b.add("pack", "block2.sign", [h], {"groups": 2}, t=np.zeros(c, np.float32))
    y = b.add("bconv", "block2.conv", [p],
              {"stride": 1, "padding": 0, "pad_mode": "valid", "groups": 2,
               **epilogue_attrs("float", (0, None))},
              weights=grouped_packed_weights(rng, 2 * c, 3, 3, c, 2),
              **epilogue_params(rng, "float", 2 * c, 9 * c // 2))
    y = b.add("global_avgpool_f32", "gap", [y])
    y = b.add("dense_f32", "fc", [y],
              weights=rng.standard_normal((classes, 2 * c)).astype(np.float32),
              bias=rng.standard_normal(classes).astype(np.float32))
    return b.build(y, classes)
