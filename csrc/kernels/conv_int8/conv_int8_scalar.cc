// Scalar twin of conv2d_int8: the formula of docs/numerics.md §5, tap by tap.
#include "kernels/conv_int8/conv_int8.h"

namespace bnnflow::glue::scalar {

void conv2d_int8(const Conv2dInt8Args& a, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right);
  // One block of all Cout channels per row; yrow is [Wo][Cout].
  conv_int8_rows(a, Ho, Wo, a.Cout, pool, [&](std::size_t n, std::size_t oh, std::size_t,
                                               std::int32_t* yrow) {
    for (std::size_t ow = 0; ow < Wo; ++ow) {
      for (std::size_t o = 0; o < a.Cout; ++o) {
        std::uint32_t acc = static_cast<std::uint32_t>(a.bias[o]);
        for (int kh = 0; kh < a.KH; ++kh) {
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * a.stride) + kh - a.pad_top;
          if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(a.H)) continue;
          for (int kw = 0; kw < a.KW; ++kw) {
            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * a.stride) + kw - a.pad_left;
            if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(a.W)) continue;
            const std::size_t xi = ((n * a.H + ih) * a.W + iw) * a.Cin;
            const std::int8_t* w = a.w + ((o * a.KH + kh) * a.KW + kw) * a.Cin;
            for (std::size_t c = 0; c < a.Cin; ++c) {
              const std::int32_t d = conv_input_at(a, xi + c) - a.zp[c];
              acc += static_cast<std::uint32_t>(static_cast<std::int32_t>(w[c]) * d);
            }
          }
        }
        yrow[ow * a.Cout + o] = static_cast<std::int32_t>(acc);
      }
    }
  });
}

// The scalar twin reads w and bias as they are: nothing to pack.
std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args&) { return 0; }
void conv2d_int8_pack(const Conv2dInt8Args&, void*) {}
void conv2d_int8_packed(const Conv2dInt8Args& a, const void*, ThreadPool* pool) { conv2d_int8(a, pool); }

bool conv2d_int8_requant_in_tile(const Conv2dInt8Args&) { return false; }  // per-row scratch

}  // namespace bnnflow::glue::scalar
