// Scalar twin of dwconv2d_int8: the formula of docs/numerics.md §5, tap by tap; with a fused
// prepared requant32 (dwconv2d_int8.h) each accumulator goes through requant32_prepared_at.
#include "kernels/dwconv_int8/dwconv_int8.h"

namespace bnnflow::glue::scalar {

bool dwconv2d_int8_requant_in_tile(const DwConv2dInt8Args& a) { return dwconv_rq_foldable(a); }

void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool) {
  const bool fused = dwconv2d_int8_requant_in_tile(a);
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right);
  const std::size_t Co = a.C * a.mult;
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        for (std::size_t o = 0; o < Co; ++o) {
          const std::size_t c = o / a.mult;
          std::uint32_t acc = static_cast<std::uint32_t>(a.bias[o]);
          for (int kh = 0; kh < a.KH; ++kh) {
            const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * a.stride) + kh - a.pad_top;
            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(a.H)) continue;
            for (int kw = 0; kw < a.KW; ++kw) {
              const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * a.stride) + kw - a.pad_left;
              if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(a.W)) continue;
              const std::int32_t d = dwconv_input_at(a, ((n * a.H + ih) * a.W + iw) * a.C + c) - a.zp[c];
              acc += static_cast<std::uint32_t>(static_cast<std::int32_t>(a.w[(o * a.KH + kh) * a.KW + kw]) * d);
            }
          }
          const std::size_t at = (u * Wo + ow) * Co + o;
          if (fused) {
            a.y8[at] = requant32_prepared_at(*a.rq, o, static_cast<std::int32_t>(acc));
          } else {
            a.y[at] = static_cast<std::int32_t>(acc);
          }
        }
      }
    }
  });
}

}  // namespace bnnflow::glue::scalar
