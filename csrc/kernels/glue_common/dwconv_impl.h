// Generic depthwise int8 convolution over lane traits V: output channels across int32 lanes.
// The input is staged once as int32 (x[c] - zp[c]) expanded to the C*m output channels with a
// zero border, weights transposed to [KH][KW][C*m]; each tap is one multiply-add per lane.
#pragma once
#include "kernels/dwconv_int8/dwconv_int8.h"
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
  // Interior only: the zeroed buffer already holds the border.
  parallel_ranges(pool, a.N * a.H, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / a.H, h = r % a.H;
      std::int32_t* out = xe.data() + ((n * Hp + h + a.pad) * Wp + a.pad) * Co;
      for (std::size_t w = 0; w < a.W; ++w) {
        const std::size_t in = (r * a.W + w) * a.C;
        for (std::size_t c = 0; c < a.C; ++c) {
          const std::int32_t d = dwconv_input_at(a, in + c) - a.zp[c];
          for (std::size_t j = 0; j < a.mult; ++j) out[w * Co + c * a.mult + j] = d;
        }
      }
    }
  });
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
