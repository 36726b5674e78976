// NEON dense_int8: 4 outputs at a time, 16 inputs per step: vmull_s8 (exact int16 products)
// pairwise-accumulated into int32 with vpadalq_s16; input tail in scalar code.
#include "kernels/common/isa_neon.h"

#include "kernels/dense_int8/dense_int8_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {
namespace {

struct Rows {
  template <int R>
  static void run(const DenseInt8Args& a, std::size_t n, std::size_t o) {
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
    for (int r = 0; r < R; ++r) dense_finish(a, n, o + r, c, vaddvq_s32(acc[r]));
  }
};

}  // namespace

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) { dense_int8_impl<Rows>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
