"""The op manifest: the one declarative definition of every op of docs/numerics.md.

Plain data only (dicts, lists, strings, ints), no code: :mod:`bnnflow.graph.schema` and
:mod:`bnnflow.graph.fixedpoint` build their Python specs from it, and
``python -m bnnflow.graph.gen_manifest`` writes it as the C++ header
``csrc/engine/op_manifest.h`` that the native validator (``csrc/engine/validate.cc``) is built
from. A test (tests/graph/test_manifest.py) fails when that committed header is out of date.

What is declared here, per op (in catalogue order, which is also the order of the C++
``OpKind`` enumerators):

- ``type``, ``kind`` (the C++ enumerator), ``doc``, ``macs`` (``"binary"``, ``"int8"``,
  ``"float"`` or ``"none"``: what :func:`bnnflow.graph.costs.op_cost` counts);
- ``inputs``: the exact number of activation inputs, or ``{"min": n}`` for a variadic op;
- ``attrs``: ``{"name", "kind": "int" | "str", "lo", "hi"`` (ints, inclusive) or
  ``"choices"`` (strings), ``"nullable"``, ``"sides"`` (also a list ``[top, left, bottom,
  right]`` of such ints: ``padding``), ``"when"``} in checking order;
- ``params``: ``{"role", "dtypes", "range"`` (every element within ``[lo, hi]``),
  ``"when"}`` in the order the reference functions take them positionally;
- ``fixed_point``: the overflow rule of numerics §3: the ``accumulator`` (a key of
  :data:`ACCUMULATORS`), the ``branches`` (multiplier roles, offset role, formula text) and
  an optional ``when``.

A ``when`` condition ``{"attr": a, "in": [v, ...]}`` holds when attr ``a`` is one of the
strings ``v``; a conditional attr or param is required exactly when its condition holds and
must be absent otherwise. What depends on the inputs (ranks, dtypes, channel counts, param
shapes, the output's dtype and shape) is shape inference: code, once in Python
(``schema.py``) and once in C++ (``validate.cc``), kept equal by the differential tests.
"""

from __future__ import annotations

from typing import Any

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

#: Sanity bounds that keep hostile files from asking for absurd shapes or loops; the binary
#: accumulators are exact in 16 bits (docs/numerics.md §4): K = KH*KW*Cg < 65536.
LIMITS: dict[str, int] = {
    "MAX_KERNEL": 64,
    "MAX_STRIDE": 64,
    "MAX_PADDING": 64,
    "MAX_GROUPS": 1 << 16,
    "MAX_BINARY_K": 65535,
}

#: Fixed-point intermediates (numerics §3): signed ``bits``, fed by inputs in ``input_range``.
ACCUMULATORS: dict[str, dict[str, Any]] = {
    # int8 inputs, int32 intermediate: requant, add, pwl, the int8 epilogue of bconv/bdense.
    "INT8_IN_INT32": {"bits": 32, "input_range": [-128, 127]},
    # any int32 input, int64 intermediate: requant32 (the engine accepts every int32 value).
    "INT32_IN_INT64": {"bits": 64, "input_range": [INT32_MIN, INT32_MAX]},
}

EPILOGUES = ["int32", "float", "int8", "packed"]
SHIFT30 = [0, 30]
SHIFT62 = [0, 62]


def _epilogue_in(*kinds: str) -> dict[str, Any]:
    return {"attr": "epilogue", "in": list(kinds)}


_STRIDE = {"name": "stride", "kind": "int", "lo": 1, "hi": LIMITS["MAX_STRIDE"]}
# An int, or (format version 2) a list [top, left, bottom, right] of ints in [lo, hi].
_PADDING = {"name": "padding", "kind": "int", "lo": 0, "hi": LIMITS["MAX_PADDING"],
            "sides": True}
_GROUPS = {"name": "groups", "kind": "int", "lo": 1, "hi": LIMITS["MAX_GROUPS"]}
POOL_ATTRS = [{"name": "kernel", "kind": "int", "lo": 1, "hi": LIMITS["MAX_KERNEL"]},
              _STRIDE, _PADDING]
CONV_ATTRS = [_STRIDE, _PADDING]
EPILOGUE_ATTRS = [
    {"name": "epilogue", "kind": "str", "choices": EPILOGUES},
    {"name": "clamp_lo", "kind": "int", "lo": INT32_MIN, "hi": INT32_MAX, "nullable": True},
    {"name": "clamp_hi", "kind": "int", "lo": INT32_MIN, "hi": INT32_MAX, "nullable": True},
    {"name": "out_groups", "kind": "int", "lo": 1, "hi": LIMITS["MAX_GROUPS"],
     "when": _epilogue_in("packed")},
]
EPILOGUE_PARAMS = [
    {"role": "weights", "dtypes": ["uint32"]},
    {"role": "scale", "dtypes": ["float32"], "when": _epilogue_in("float")},
    {"role": "bias", "dtypes": ["float32"], "when": _epilogue_in("float")},
    {"role": "M", "dtypes": ["int16"], "when": _epilogue_in("int8")},
    {"role": "B", "dtypes": ["int32"], "when": _epilogue_in("int8")},
    {"role": "s", "dtypes": ["int8"], "range": SHIFT30, "when": _epilogue_in("int8")},
    {"role": "T", "dtypes": ["int32"], "when": _epilogue_in("packed")},
]


def _p(role: str, *dtypes: str, value_range: list[int] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": role, "dtypes": list(dtypes)}
    if value_range is not None:
        spec["range"] = value_range
    return spec


def _branch(mults: list[str], bias: str, formula: str) -> dict[str, Any]:
    return {"mults": mults, "bias": bias, "formula": formula}


_REQUANT_FP = {"accumulator": "INT8_IN_INT32", "branches": [_branch(["M"], "B", "M*q + B")]}
_EPILOGUE_FP = {**_REQUANT_FP, "when": _epilogue_in("int8")}
_SCALE_BIAS = [_p("scale", "float32"), _p("bias", "float32")]
_POOL = {"inputs": 1, "attrs": POOL_ATTRS, "params": []}
_GLOBAL_POOL = {"inputs": 1, "attrs": [], "params": []}

#: Every op, in catalogue order.
OPS: list[dict[str, Any]] = [
    {"type": "pack", "kind": "kPack", "inputs": 1, "attrs": [_GROUPS],
     "params": [_p("t", "int32", "float32")],
     "doc": "bit = x < t[c]; int8 x with int32 t, float32 x with float32 t"},
    {"type": "bconv", "kind": "kBconv", "inputs": 1,
     "attrs": [*CONV_ATTRS, {"name": "pad_mode", "kind": "str",
                             "choices": ["zero", "one", "valid"]},
               _GROUPS, *EPILOGUE_ATTRS],
     "params": EPILOGUE_PARAMS, "fixed_point": _EPILOGUE_FP,
     "doc": "binary direct convolution with fused epilogue", "macs": "binary"},
    {"type": "bdense", "kind": "kBdense", "inputs": 1, "attrs": EPILOGUE_ATTRS,
     "params": EPILOGUE_PARAMS, "fixed_point": _EPILOGUE_FP,
     "doc": "binary dense with fused epilogue", "macs": "binary"},
    {"type": "maxpool_packed", "kind": "kMaxpoolPacked", **_POOL,
     "doc": "max of ±1 = AND of bits over taps inside the image"},
    {"type": "requant", "kind": "kRequant", "inputs": 1, "attrs": [],
     "params": [_p("M", "int16"), _p("B", "int32"), _p("s", "int8", value_range=SHIFT30)],
     "fixed_point": _REQUANT_FP, "doc": "int8 -> int8 fixed-point rescale"},
    {"type": "requant32", "kind": "kRequant32", "inputs": 1, "attrs": [],
     "params": [_p("M", "int32"), _p("B", "int64"), _p("s", "int8", value_range=SHIFT62)],
     "fixed_point": {"accumulator": "INT32_IN_INT64",
                     "branches": [_branch(["M"], "B", "M*x + B")]},
     "doc": "int32 -> int8 fixed-point rescale (int64 intermediate)"},
    {"type": "add", "kind": "kAdd", "inputs": 2, "attrs": [],
     "params": [_p("Ma", "int16"), _p("Mb", "int16"), _p("B", "int32"),
                _p("s", "int8", value_range=SHIFT30)],
     "fixed_point": {"accumulator": "INT8_IN_INT32",
                     "branches": [_branch(["Ma", "Mb"], "B", "Ma*a + Mb*b + B")]},
     "doc": "int8 + int8 -> int8 residual add"},
    {"type": "pwl", "kind": "kPwl", "inputs": 1, "attrs": [],
     "params": [_p("t", "int32"), _p("Mp", "int16"), _p("Bp", "int32"), _p("Mn", "int16"),
                _p("Bn", "int32"), _p("s", "int8", value_range=SHIFT30)],
     "fixed_point": {"accumulator": "INT8_IN_INT32",
                     "branches": [_branch(["Mp"], "Bp", "Mp*q + Bp"),
                                  _branch(["Mn"], "Bn", "Mn*q + Bn")]},
     "doc": "per-channel piecewise-linear non-linearity, fixed point"},
    {"type": "maxpool_int8", "kind": "kMaxpoolInt8", **_POOL,
     "doc": "max over taps inside the image"},
    {"type": "sumpool_int8", "kind": "kSumpoolInt8", **_POOL,
     "doc": "int32 sum over taps inside the image"},
    {"type": "global_sumpool_int8", "kind": "kGlobalSumpoolInt8", **_GLOBAL_POOL,
     "doc": "int32 [N, C] sum over H*W"},
    {"type": "conv2d_int8", "kind": "kConv2dInt8", "inputs": 1, "attrs": CONV_ATTRS,
     "params": [_p("weights", "int8"), _p("bias", "int32"), _p("zp", "int32")],
     "doc": "int8/uint8 conv with per-input-channel zero point, int32 out", "macs": "int8"},
    {"type": "dwconv2d_int8", "kind": "kDwconv2dInt8", "inputs": 1, "attrs": CONV_ATTRS,
     "params": [_p("weights", "int8"), _p("bias", "int32"), _p("zp", "int32")],
     "doc": "depthwise int8 conv, channel multiplier m", "macs": "int8"},
    {"type": "dense_int8", "kind": "kDenseInt8", "inputs": 1, "attrs": [],
     "params": [_p("weights", "int8"), _p("bias", "int32")],
     "doc": "int8 dense, int32 out", "macs": "int8"},
    {"type": "concat", "kind": "kConcat", "inputs": {"min": 2}, "attrs": [], "params": [],
     "doc": "concat along channels"},
    {"type": "dequant", "kind": "kDequant", "inputs": 1, "attrs": [], "params": _SCALE_BIAS,
     "doc": "float32(x) * scale[c] + bias[c]"},
    {"type": "scale_bias", "kind": "kScaleBias", "inputs": 1, "attrs": [],
     "params": _SCALE_BIAS, "doc": "x * scale[c] + bias[c]"},
    {"type": "add_f32", "kind": "kAddF32", "inputs": 2, "attrs": [], "params": [],
     "doc": "a + b"},
    {"type": "pwl_f32", "kind": "kPwlF32", "inputs": 1, "attrs": [],
     "params": [_p(r, "float32") for r in ("t", "kp", "bp", "kn", "bn")],
     "doc": "x >= t ? kp*x + bp : kn*x + bn"},
    {"type": "conv2d_f32", "kind": "kConv2dF32", "inputs": 1, "attrs": CONV_ATTRS,
     "params": [_p("weights", "float32"), _p("bias", "float32")],
     "doc": "float32 conv", "macs": "float"},
    {"type": "dense_f32", "kind": "kDenseF32", "inputs": 1, "attrs": [],
     "params": [_p("weights", "float32"), _p("bias", "float32")],
     "doc": "float32 dense", "macs": "float"},
    {"type": "maxpool_f32", "kind": "kMaxpoolF32", **_POOL,
     "doc": "max over taps inside the image"},
    {"type": "avgpool_f32", "kind": "kAvgpoolF32", **_POOL,
     "doc": "average pool, count_include_pad"},
    {"type": "global_avgpool_f32", "kind": "kGlobalAvgpoolF32", **_GLOBAL_POOL,
     "doc": "mean over H*W"},
    {"type": "flatten", "kind": "kFlatten", "inputs": 1, "attrs": [], "params": [],
     "doc": "[N,H,W,C] -> [N, H*W*C] (NHWC order)"},
    {"type": "channel_shuffle", "kind": "kChannelShuffle", "inputs": 1, "attrs": [_GROUPS],
     "params": [], "doc": "y[..., j*g + i] = x[..., i*(C/g) + j] (ShuffleNet), int8 or float32"},
    {"type": "sigmoid_f32", "kind": "kSigmoidF32", "inputs": 1, "attrs": [], "params": [],
     "doc": "1 / (1 + exp(-x))"},
    {"type": "mul_f32", "kind": "kMulF32", "inputs": 2, "attrs": [], "params": [],
     "doc": "a * b, b of a's shape or [N, C] broadcast over H, W"},
]
