// NEON dense_int8: 4 outputs at a time, 16 inputs per step: vmull_s8 (exact int16 products)
// pairwise-accumulated into int32 with vpadalq_s16; input tail in scalar code.
#include "kernels/glue_common/arm_neon.h"

#include "kernels/dense_int8/dense_int8.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {
namespace {

template <int R>
void rows(const DenseInt8Args& a, std::size_t n, std::size_t o) {
  const std::int8_t* x = a.x + n * a.Cin;
  int32x4_t acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_s32(0);
  std::size_t c = 0;
  for (; c + 16 <= a.Cin; c += 16) {
    const int8x16_t xv = vld1q_s8(x + c);
    for (int r = 0; r < R; ++r) {
      const int8x16_t w = vld1q_s8(a.w + (o + r) * a.Cin + c);
      acc[r] = vpadalq_s16(acc[r], vmull_s8(vget_low_s8(xv), vget_low_s8(w)));
      acc[r] = vpadalq_s16(acc[r], vmull_high_s8(xv, w));
    }
  }
  for (int r = 0; r < R; ++r) {
    std::uint32_t s = static_cast<std::uint32_t>(a.bias[o + r]);
    s += static_cast<std::uint32_t>(vaddvq_s32(acc[r]));
    for (std::size_t k = c; k < a.Cin; ++k) {
      s += static_cast<std::uint32_t>(static_cast<std::int32_t>(a.w[(o + r) * a.Cin + k]) * x[k]);
    }
    a.y[n * a.Cout + o + r] = static_cast<std::int32_t>(s);
  }
}

}  // namespace

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) {
  const std::size_t nb = (a.Cout + kDenseBlock - 1) / kDenseBlock;
  parallel_ranges(pool, a.N * nb, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / nb, o0 = (u % nb) * kDenseBlock;
      const std::size_t o1 = o0 + kDenseBlock < a.Cout ? o0 + kDenseBlock : a.Cout;
      std::size_t o = o0;
      for (; o + 4 <= o1; o += 4) rows<4>(a, n, o);
      for (; o < o1; ++o) rows<1>(a, n, o);
    }
  });
}

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
