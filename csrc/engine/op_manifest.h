// GENERATED from src/bnnflow/graph/manifest.py by `python -m bnnflow.graph.gen_manifest`.
// Do not edit: change the manifest and regenerate (tests/graph/test_manifest.py fails when
// this file is out of date). The op manifest is the one declarative definition of every op:
// inputs, attrs, params, their conditions, MAC kind, doc and fixed-point rule (numerics §3);
// csrc/engine/validate.cc checks files against it, bnnflow.graph.schema builds SCHEMAS from it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/container.h"

namespace bnnflow::engine {

inline constexpr std::int64_t kMaxKernel = 64;
inline constexpr std::int64_t kMaxStride = 64;
inline constexpr std::int64_t kMaxPadding = 64;
inline constexpr std::int64_t kMaxGroups = 65536;
inline constexpr std::int64_t kMaxBinaryK = 65535;

// One per op, in catalogue order.
enum class OpKind : std::uint8_t {
  kPack, kBconv, kBdense, kMaxpoolPacked, kRequant, kRequant32, kAdd, kPwl, kMaxpoolInt8,
  kSumpoolInt8, kGlobalSumpoolInt8, kConv2dInt8, kDwconv2dInt8, kDenseInt8, kConcat, kDequant,
  kScaleBias, kAddF32, kPwlF32, kConv2dF32, kDenseF32, kMaxpoolF32, kAvgpoolF32, kGlobalAvgpoolF32,
  kFlatten, kChannelShuffle, kSigmoidF32, kMulF32,
};

namespace manifest {

// When an attr / param / rule applies: always (attr empty), or when the string attr `attr`
// is one of `in`.
struct Cond {
  std::string attr;
  std::vector<std::string> in;
};

struct Attr {
  std::string name;
  bool is_int;
  std::int64_t lo, hi;               // ints, inclusive
  std::vector<std::string> choices;  // strings
  bool nullable;
  Cond when;
  bool sides;  // an int, or a list [top, left, bottom, right] of such ints (padding)
};

struct Param {
  std::string role;
  std::vector<DType> dtypes;
  bool ranged;
  std::int64_t lo, hi;  // every element within [lo, hi] when ranged
  Cond when;
};

// v = sum_i M_i[c]*x_i + B[c] + 2^(s-1) must fit `bits` signed bits for x_i in [in_lo, in_hi].
struct Branch {
  std::vector<std::string> mults;
  std::string bias, formula;
};
struct FixedPoint {
  bool present;
  int bits;
  std::int64_t in_lo, in_hi;
  std::vector<Branch> branches;
  Cond when;
};

struct Op {
  std::string type;
  OpKind kind;
  int inputs;     // exact count, or the minimum when variadic
  bool variadic;
  std::vector<Attr> attrs;
  std::vector<Param> params;
  FixedPoint fixed_point;
  std::string macs, doc;
};

// Every op, in catalogue order (OpKind order).
inline const std::vector<Op>& ops() {
  static const std::vector<Op> table = {
      {"pack", OpKind::kPack, 1, false,
       {{"groups", true, 1, 65536, {}, false, {}, false}},
       {{"t", {DType::kInt32, DType::kFloat32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "none", "bit = x < t[c]; int8 x with int32 t, float32 x with float32 t"},
      {"bconv", OpKind::kBconv, 1, false,
       {{"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true},
        {"pad_mode", false, 0, 0, {"zero", "one", "valid"}, false, {}, false},
        {"groups", true, 1, 65536, {}, false, {}, false},
        {"epilogue", false, 0, 0, {"int32", "float", "int8", "packed"}, false, {}, false},
        {"clamp_lo", true, INT64_C(-2147483648), 2147483647, {}, true, {}, false},
        {"clamp_hi", true, INT64_C(-2147483648), 2147483647, {}, true, {}, false},
        {"out_groups", true, 1, 65536, {}, false, {"epilogue", {"packed"}}, false}},
       {{"weights", {DType::kUint32}, false, 0, 0, {}},
        {"scale", {DType::kFloat32}, false, 0, 0, {"epilogue", {"float"}}},
        {"bias", {DType::kFloat32}, false, 0, 0, {"epilogue", {"float"}}},
        {"M", {DType::kInt16}, false, 0, 0, {"epilogue", {"int8"}}},
        {"B", {DType::kInt32}, false, 0, 0, {"epilogue", {"int8"}}},
        {"s", {DType::kInt8}, true, 0, 30, {"epilogue", {"int8"}}},
        {"T", {DType::kInt32}, false, 0, 0, {"epilogue", {"packed"}}}},
       {true, 32, -128, 127, {{{"M"}, "B", "M*q + B"}}, {"epilogue", {"int8"}}},
       "binary", "binary direct convolution with fused epilogue"},
      {"bdense", OpKind::kBdense, 1, false,
       {{"epilogue", false, 0, 0, {"int32", "float", "int8", "packed"}, false, {}, false},
        {"clamp_lo", true, INT64_C(-2147483648), 2147483647, {}, true, {}, false},
        {"clamp_hi", true, INT64_C(-2147483648), 2147483647, {}, true, {}, false},
        {"out_groups", true, 1, 65536, {}, false, {"epilogue", {"packed"}}, false}},
       {{"weights", {DType::kUint32}, false, 0, 0, {}},
        {"scale", {DType::kFloat32}, false, 0, 0, {"epilogue", {"float"}}},
        {"bias", {DType::kFloat32}, false, 0, 0, {"epilogue", {"float"}}},
        {"M", {DType::kInt16}, false, 0, 0, {"epilogue", {"int8"}}},
        {"B", {DType::kInt32}, false, 0, 0, {"epilogue", {"int8"}}},
        {"s", {DType::kInt8}, true, 0, 30, {"epilogue", {"int8"}}},
        {"T", {DType::kInt32}, false, 0, 0, {"epilogue", {"packed"}}}},
       {true, 32, -128, 127, {{{"M"}, "B", "M*q + B"}}, {"epilogue", {"int8"}}},
       "binary", "binary dense with fused epilogue"},
      {"maxpool_packed", OpKind::kMaxpoolPacked, 1, false,
       {{"kernel", true, 1, 64, {}, false, {}, false},
        {"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "max of \302\2611 = AND of bits over taps inside the image"},
      {"requant", OpKind::kRequant, 1, false,
       {},
       {{"M", {DType::kInt16}, false, 0, 0, {}},
        {"B", {DType::kInt32}, false, 0, 0, {}},
        {"s", {DType::kInt8}, true, 0, 30, {}}},
       {true, 32, -128, 127, {{{"M"}, "B", "M*q + B"}}, {}},
       "none", "int8 -> int8 fixed-point rescale"},
      {"requant32", OpKind::kRequant32, 1, false,
       {},
       {{"M", {DType::kInt32}, false, 0, 0, {}},
        {"B", {DType::kInt64}, false, 0, 0, {}},
        {"s", {DType::kInt8}, true, 0, 62, {}}},
       {true, 64, INT64_C(-2147483648), 2147483647, {{{"M"}, "B", "M*x + B"}}, {}},
       "none", "int32 -> int8 fixed-point rescale (int64 intermediate)"},
      {"add", OpKind::kAdd, 2, false,
       {},
       {{"Ma", {DType::kInt16}, false, 0, 0, {}},
        {"Mb", {DType::kInt16}, false, 0, 0, {}},
        {"B", {DType::kInt32}, false, 0, 0, {}},
        {"s", {DType::kInt8}, true, 0, 30, {}}},
       {true, 32, -128, 127, {{{"Ma", "Mb"}, "B", "Ma*a + Mb*b + B"}}, {}},
       "none", "int8 + int8 -> int8 residual add"},
      {"pwl", OpKind::kPwl, 1, false,
       {},
       {{"t", {DType::kInt32}, false, 0, 0, {}},
        {"Mp", {DType::kInt16}, false, 0, 0, {}},
        {"Bp", {DType::kInt32}, false, 0, 0, {}},
        {"Mn", {DType::kInt16}, false, 0, 0, {}},
        {"Bn", {DType::kInt32}, false, 0, 0, {}},
        {"s", {DType::kInt8}, true, 0, 30, {}}},
       {true, 32, -128, 127, {{{"Mp"}, "Bp", "Mp*q + Bp"}, {{"Mn"}, "Bn", "Mn*q + Bn"}}, {}},
       "none", "per-channel piecewise-linear non-linearity, fixed point"},
      {"maxpool_int8", OpKind::kMaxpoolInt8, 1, false,
       {{"kernel", true, 1, 64, {}, false, {}, false},
        {"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "max over taps inside the image"},
      {"sumpool_int8", OpKind::kSumpoolInt8, 1, false,
       {{"kernel", true, 1, 64, {}, false, {}, false},
        {"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "int32 sum over taps inside the image"},
      {"global_sumpool_int8", OpKind::kGlobalSumpoolInt8, 1, false,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "int32 [N, C] sum over H*W"},
      {"conv2d_int8", OpKind::kConv2dInt8, 1, false,
       {{"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {{"weights", {DType::kInt8}, false, 0, 0, {}},
        {"bias", {DType::kInt32}, false, 0, 0, {}},
        {"zp", {DType::kInt32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "int8", "int8/uint8 conv with per-input-channel zero point, int32 out"},
      {"dwconv2d_int8", OpKind::kDwconv2dInt8, 1, false,
       {{"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {{"weights", {DType::kInt8}, false, 0, 0, {}},
        {"bias", {DType::kInt32}, false, 0, 0, {}},
        {"zp", {DType::kInt32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "int8", "depthwise int8 conv, channel multiplier m"},
      {"dense_int8", OpKind::kDenseInt8, 1, false,
       {},
       {{"weights", {DType::kInt8}, false, 0, 0, {}},
        {"bias", {DType::kInt32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "int8", "int8 dense, int32 out"},
      {"concat", OpKind::kConcat, 2, true,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "concat along channels"},
      {"dequant", OpKind::kDequant, 1, false,
       {},
       {{"scale", {DType::kFloat32}, false, 0, 0, {}},
        {"bias", {DType::kFloat32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "none", "float32(x) * scale[c] + bias[c]"},
      {"scale_bias", OpKind::kScaleBias, 1, false,
       {},
       {{"scale", {DType::kFloat32}, false, 0, 0, {}},
        {"bias", {DType::kFloat32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "none", "x * scale[c] + bias[c]"},
      {"add_f32", OpKind::kAddF32, 2, false,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "a + b"},
      {"pwl_f32", OpKind::kPwlF32, 1, false,
       {},
       {{"t", {DType::kFloat32}, false, 0, 0, {}},
        {"kp", {DType::kFloat32}, false, 0, 0, {}},
        {"bp", {DType::kFloat32}, false, 0, 0, {}},
        {"kn", {DType::kFloat32}, false, 0, 0, {}},
        {"bn", {DType::kFloat32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "none", "x >= t ? kp*x + bp : kn*x + bn"},
      {"conv2d_f32", OpKind::kConv2dF32, 1, false,
       {{"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {{"weights", {DType::kFloat32}, false, 0, 0, {}},
        {"bias", {DType::kFloat32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "float", "float32 conv"},
      {"dense_f32", OpKind::kDenseF32, 1, false,
       {},
       {{"weights", {DType::kFloat32}, false, 0, 0, {}},
        {"bias", {DType::kFloat32}, false, 0, 0, {}}},
       {false, 0, 0, 0, {}, {}},
       "float", "float32 dense"},
      {"maxpool_f32", OpKind::kMaxpoolF32, 1, false,
       {{"kernel", true, 1, 64, {}, false, {}, false},
        {"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "max over taps inside the image"},
      {"avgpool_f32", OpKind::kAvgpoolF32, 1, false,
       {{"kernel", true, 1, 64, {}, false, {}, false},
        {"stride", true, 1, 64, {}, false, {}, false},
        {"padding", true, 0, 64, {}, false, {}, true}},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "average pool, count_include_pad"},
      {"global_avgpool_f32", OpKind::kGlobalAvgpoolF32, 1, false,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "mean over H*W"},
      {"flatten", OpKind::kFlatten, 1, false,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "[N,H,W,C] -> [N, H*W*C] (NHWC order)"},
      {"channel_shuffle", OpKind::kChannelShuffle, 1, false,
       {{"groups", true, 1, 65536, {}, false, {}, false}},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "y[..., j*g + i] = x[..., i*(C/g) + j] (ShuffleNet), int8 or float32"},
      {"sigmoid_f32", OpKind::kSigmoidF32, 1, false,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "1 / (1 + exp(-x))"},
      {"mul_f32", OpKind::kMulF32, 2, false,
       {},
       {},
       {false, 0, 0, 0, {}, {}},
       "none", "a * b, b of a's shape or [N, C] broadcast over H, W"},
  };
  return table;
}

}  // namespace manifest

}  // namespace bnnflow::engine
