// Generic depthwise int8 convolution over lane traits V: output channels across int32 lanes.
// The input is staged once as int32 (x[c] - zp[c]) expanded to the C*m output channels with a
// zero border, weights transposed to [KH][KW][C*m]; each tap is one multiply-add per lane.
#pragma once
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/glue_common/conv_prep.h"
#include "kernels/glue_common/glue.h"

namespace bnnflow::glue {
namespace {

template <class V>
void dwconv2d_int8_impl(const DwConv2dInt8Args& a, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad);
  const std::size_t Co = a.C * a.mult, Hp = a.H + 2 * a.pad, Wp = a.W + 2 * a.pad;
  const std::size_t taps = static_cast<std::size_t>(a.KH) * a.KW;
  GlueBuffer<std::int32_t> xe(a.N * Hp * Wp * Co);
  stage_padded(
      xe.data(), a.N, a.H, a.W, Co, a.pad, pool,
      [&](std::size_t i, std::size_t o) {
        const std::size_t c = o / a.mult;
        return dwconv_input_at(a, (i / Co) * a.C + c) - a.zp[c];
      },
      [](std::size_t) { return std::int32_t{0}; });
  GlueBuffer<std::int32_t> wt(taps * Co);
  for (std::size_t o = 0; o < Co; ++o) {
    for (std::size_t t = 0; t < taps; ++t) wt[t * Co + o] = a.w[o * taps + t];
  }
  const std::size_t Cv = Co - Co % V::kI32;
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        std::int32_t* y = a.y + (u * Wo + ow) * Co;
        const std::int32_t* x0 = xe.data() + ((n * Hp + oh * a.stride) * Wp + ow * a.stride) * Co;
        for (std::size_t o = 0; o < Cv; o += V::kI32) {
          typename V::I acc = V::ld_i32(a.bias + o);
          for (int kh = 0; kh < a.KH; ++kh) {
            for (int kw = 0; kw < a.KW; ++kw) {
              const std::size_t t = static_cast<std::size_t>(kh) * a.KW + kw;
              const std::int32_t* x = x0 + (static_cast<std::size_t>(kh) * Wp + kw) * Co;
              acc = V::mla(acc, V::ld_i32(x + o), V::ld_i32(wt.data() + t * Co + o));
            }
          }
          V::st_i32(y + o, acc);
        }
        for (std::size_t o = Cv; o < Co; ++o) {
          std::uint32_t acc = static_cast<std::uint32_t>(a.bias[o]);
          for (std::size_t t = 0; t < taps; ++t) {
            const std::int32_t* x = x0 + ((t / a.KW) * Wp + t % a.KW) * Co;
            acc += static_cast<std::uint32_t>(x[o] * wt[t * Co + o]);
          }
          y[o] = static_cast<std::int32_t>(acc);
        }
      }
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
