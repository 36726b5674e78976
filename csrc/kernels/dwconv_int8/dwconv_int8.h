// dwconv2d_int8 (docs/numerics.md §5): depthwise convolution with channel multiplier m.
// Output channel o = c*m + j reads input channel c:
//   acc[o] = bias[o] + sum_{taps inside} w[o,kh,kw] * (x[c] - zp[c])
// x uint8 or int8 NHWC [N,H,W,C], w int8 [C*m, KH, KW], bias int32 [C*m], zp int32 [C],
// int32 output [N,Ho,Wo,C*m]; padded taps contribute 0; wrapping int32 accumulation.
//
// Fused requant32 (rq set, a prepared requant32 of the int32 or high32 form: requant.h): the
// kernel writes int8 y8[n,i,j,o] = requant32(acc[n,i,j,o]) and never the int32 tensor (y
// unused). Only where dwconv2d_int8_requant_in_tile(a) holds (AVX-512, AVX2 and NEON requantise
// the accumulators in the register tile, the scalar kernel per element; not the int64 form):
// callers check it and otherwise run dwconv2d_int8 and requant32 apart.
#pragma once
#include "kernels/common/kernel_common.h"
#include "kernels/requant/requant.h"

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
  const PreparedRequant32* rq = nullptr;  // optional fused requant32 (see above), C*m channels
  std::int8_t* y8 = nullptr;              // [N,Ho,Wo,C*m] int8 output when rq is set
};

#define BNNFLOW_GLUE_DWCONV_INT8_KERNELS                              \
  void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool);    \
  bool dwconv2d_int8_requant_in_tile(const DwConv2dInt8Args& a);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_DWCONV_INT8_KERNELS)

static inline std::int32_t dwconv_input_at(const DwConv2dInt8Args& a, std::size_t i) {
  return a.x_unsigned ? static_cast<std::int32_t>(static_cast<const std::uint8_t*>(a.x)[i])
                      : static_cast<std::int32_t>(static_cast<const std::int8_t*>(a.x)[i]);
}

// Whether a's fused requant32 has a form the register tiles requantise (int32 or high32).
static inline bool dwconv_rq_foldable(const DwConv2dInt8Args& a) {
  return a.rq != nullptr && a.y8 != nullptr &&
         (a.rq->mode == Rq32Mode::kInt32 || a.rq->mode == Rq32Mode::kHigh32);
}

}  // namespace bnnflow::glue
