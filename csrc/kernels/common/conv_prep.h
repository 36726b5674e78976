// Input and weight staging shared by the direct int8/float convolutions: a zero-bordered
// copy of the input, [N][Hp][Wp][Cin] of type T (Hp = H + pad_top + pad_bottom,
// Wp = W + pad_left + pad_right), so the KW*Cin values of one kernel row of
// one output pixel are contiguous and no tap needs a bounds check; weights re-laid with output
// channels innermost.
#pragma once
#include <type_traits>

#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {
namespace {

// The interior of a zero-initialised padded buffer (GlueBuffer memory starts zeroed, so the
// border is already 0): xp[n][h+pad_top][w+pad_left][c] = T(x[n][h][w][c] - zp[c]) in the
// [N][Hp][Wp][C] buffer; float inputs are copied (zp unused).
template <class T, class In>
void stage_interior(T* xp, const In* x, const std::int32_t* zp, std::size_t N, std::size_t H,
                    std::size_t W, std::size_t C, int pad_top, int pad_left, std::size_t Hp,
                    std::size_t Wp, ThreadPool* pool) {
  parallel_ranges(pool, N * H, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / H, h = r % H;
      const In* in = x + r * W * C;
      T* out = xp + ((n * Hp + h + pad_top) * Wp + pad_left) * C;
      for (std::size_t w = 0; w < W; ++w) {
        if constexpr (std::is_floating_point_v<In>) {
          for (std::size_t c = 0; c < C; ++c) out[w * C + c] = static_cast<T>(in[w * C + c]);
        } else {
          for (std::size_t c = 0; c < C; ++c) {
            out[w * C + c] = static_cast<T>(static_cast<std::int32_t>(in[w * C + c]) - zp[c]);
          }
        }
      }
    }
  });
}

// Weights [Cout][KH][L] (L = KW*Cin) re-laid for output channels across lanes, in groups of
// G consecutive reduction values: dst[((kh*Q + q)*CoP + o)*G + g] = w[o][kh][q*G + g], with
// Q = ceil(L/G); entries past L or Cout stay 0 (dst must be zeroed). Output channels are
// walked in blocks of 16 so every destination cache line is filled in one pass.
template <int G, class T, class S>
void pack_weights(T* dst, const S* w, std::size_t Cout, int KH, std::size_t L, std::size_t CoP) {
  const std::size_t Q = (L + G - 1) / G;
  constexpr std::size_t kBlock = 16;
  for (std::size_t o0 = 0; o0 < Cout; o0 += kBlock) {
    const std::size_t o1 = o0 + kBlock < Cout ? o0 + kBlock : Cout;
    for (int kh = 0; kh < KH; ++kh) {
      for (std::size_t q = 0; q < Q; ++q) {
        T* d = dst + ((static_cast<std::size_t>(kh) * Q + q) * CoP) * G;
        for (std::size_t o = o0; o < o1; ++o) {
          const S* src = w + (o * KH + kh) * L + q * G;
          for (std::size_t g = 0; g < G && q * G + g < L; ++g) d[o * G + g] = static_cast<T>(src[g]);
        }
      }
    }
  }
}

}  // namespace
}  // namespace bnnflow::glue
