// NEON requant (4 int32 lanes, generic kernel) and requant32 (2x2 int64 lanes per step).
#include "kernels/common/vec_neon.h"
#include "kernels/requant/requant_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

void requant(const RequantArgs& a, ThreadPool* pool) { requant_impl<Vec>(a, pool); }

void requant32(const Requant32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  GlueBuffer<std::int64_t> br(C), nshift(C);
  for (std::size_t c = 0; c < C; ++c) {
    br[c] = wadd64(a.B[c], round_term64(a.s[c]));
    nshift[c] = -static_cast<std::int64_t>(a.s[c]);  // vshl by a negative count shifts right
  }
  const std::size_t Cv = C - C % 4;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += 4) {
        const int32x4_t xv = vld1q_s32(x + c), mv = vld1q_s32(a.M + c);
        int64x2_t lo = vaddq_s64(vmull_s32(vget_low_s32(xv), vget_low_s32(mv)), vld1q_s64(br.data() + c));
        int64x2_t hi = vaddq_s64(vmull_high_s32(xv, mv), vld1q_s64(br.data() + c + 2));
        lo = vshlq_s64(lo, vld1q_s64(nshift.data() + c));
        hi = vshlq_s64(hi, vld1q_s64(nshift.data() + c + 2));
        const int16x4_t h = vqmovn_s32(vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi)));
        const int8x8_t b = vqmovn_s16(vcombine_s16(h, h));
        vst1_lane_s32(reinterpret_cast<std::int32_t*>(y + c), vreinterpret_s32_s8(b), 0);
      }
      for (; c < C; ++c) {
        const std::int64_t v = wadd64(static_cast<std::int64_t>(a.M[c]) * x[c], br[c]);
        y[c] = sat8(v >> a.s[c]);
      }
    }
  });
}

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
