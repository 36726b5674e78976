// dwconv2d_int8 (docs/numerics.md §5): depthwise convolution with channel multiplier m.
// Output channel o = c*m + j reads input channel c:
//   acc[o] = bias[o] + sum_{taps inside} w[o,kh,kw] * (x[c] - zp[c])
// x uint8 or int8 NHWC [N,H,W,C], w int8 [C*m, KH, KW], bias int32 [C*m], zp int32 [C],
// int32 output [N,Ho,Wo,C*m]; padded taps contribute 0; wrapping int32 accumulation.
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct DwConv2dInt8Args {
  const void* x;
  bool x_unsigned;
  const std::int8_t* w;
  const std::int32_t* bias;
  const std::int32_t* zp;
  std::int32_t* y;
  std::size_t N, H, W, C, mult;
  int KH, KW, stride;
  int pad_top, pad_left, pad_bottom, pad_right;  // per side (docs/format.md, Padding)
};

#define BNNFLOW_GLUE_DWCONV_INT8_KERNELS \
  void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_DWCONV_INT8_KERNELS)

static inline std::int32_t dwconv_input_at(const DwConv2dInt8Args& a, std::size_t i) {
  return a.x_unsigned ? static_cast<std::int32_t>(static_cast<const std::uint8_t*>(a.x)[i])
                      : static_cast<std::int32_t>(static_cast<const std::int8_t*>(a.x)[i]);
}

}  // namespace bnnflow::glue
