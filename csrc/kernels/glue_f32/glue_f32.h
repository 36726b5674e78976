// Float32 glue of the `float` data-flow, and the classifier's int32 -> float dequant
// (docs/numerics.md §5):
//   scale_bias : y = x*a[c] + b[c]                  float32 [rows, C]
//   dequant    : y = float32(acc)*scale[c] + bias[c] int32 [rows, C] -> float32
//   conv2d_f32 : y[o] = bias[o] + sum_{taps inside} sum_c w[o,kh,kw,c]*x[c]  (zero padding)
//   dense_f32  : y[o] = bias[o] + sum_c w[o,c]*x[c]
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct ScaleBiasArgs {
  const float* x;
  float* y;
  std::size_t rows, channels;
  const float* a;
  const float* b;
};

struct DequantArgs {
  const std::int32_t* x;
  float* y;
  std::size_t rows, channels;
  const float* scale;
  const float* bias;
};

struct Conv2dF32Args {
  const float* x;  // [N, H, W, Cin]
  const float* w;  // [Cout, KH, KW, Cin]
  const float* bias;  // [Cout]
  float* y;        // [N, Ho, Wo, Cout]
  std::size_t N, H, W, Cin, Cout;
  int KH, KW, stride;
  int pad_top, pad_left, pad_bottom, pad_right;  // per side (docs/format.md, Padding)
};

struct DenseF32Args {
  const float* x;  // [N, Cin]
  const float* w;  // [Cout, Cin]
  const float* bias;
  float* y;        // [N, Cout]
  std::size_t N, Cin, Cout;
};

// conv2d_f32 = conv2d_f32_pack (weights with output channels across lanes, padded bias; reads
// w, bias, Cin, Cout, KH, KW) into conv2d_f32_packed_bytes(a) bytes of zeroed 64-byte-aligned
// memory, then conv2d_f32_packed; prepare_conv2d_f32_weights keeps the packed bytes.
#define BNNFLOW_GLUE_F32_KERNELS                             \
  void scale_bias(const ScaleBiasArgs& a, ThreadPool* pool); \
  void dequant(const DequantArgs& a, ThreadPool* pool);      \
  void conv2d_f32(const Conv2dF32Args& a, ThreadPool* pool); \
  std::size_t conv2d_f32_packed_bytes(const Conv2dF32Args& a); \
  void conv2d_f32_pack(const Conv2dF32Args& a, void* packed); \
  void conv2d_f32_packed(const Conv2dF32Args& a, const void* packed, ThreadPool* pool); \
  void dense_f32(const DenseF32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_F32_KERNELS)

}  // namespace bnnflow::glue
