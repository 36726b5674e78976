// NEON requant (4 int32 lanes, generic kernel) and requant32 (2x2 int64 lanes per step; a
// prepared requant32 in int32 lanes or as the high halves of int64 multiply-accumulates).
#include "kernels/common/vec_neon.h"
#include "kernels/requant/requant32_neon_lanes.h"
#include "kernels/requant/requant_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

void requant(const RequantArgs& a, ThreadPool* pool) { requant_impl<Vec>(a, pool); }

namespace {

// Prepared requant32 (requant32_plan.h), 4 channels from c: requant32_neon_lanes.h.
template <Rq32Mode kMode>
inline int32x4_t rq32p_lanes(const std::int32_t* x, const PreparedRequant32& p, std::size_t c) {
  return rq32p_apply<kMode>(vld1q_s32(x), p, c);
}

// 16 channels narrowed per store, then 4, then the scalar twin for C % 4 channels; the
// parameters in the range's locals (the int8 stores may alias anything).
template <Rq32Mode kMode>
void rq32p_rows(const Requant32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.rows, [&a](std::size_t r0, std::size_t r1) {
    const PreparedRequant32 p = *a.prep;
    const std::size_t C = a.channels, Cv = C / 4 * 4;
    const std::int32_t* const x0 = a.x;
    std::int8_t* const y0 = a.y;
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = x0 + r * C;
      std::int8_t* y = y0 + r * C;
      std::size_t c = 0;
      for (; c + 16 <= Cv; c += 16) {
        const int16x8_t h01 = vqmovn_high_s32(vqmovn_s32(rq32p_lanes<kMode>(x + c, p, c)),
                                              rq32p_lanes<kMode>(x + c + 4, p, c + 4));
        const int16x8_t h23 = vqmovn_high_s32(vqmovn_s32(rq32p_lanes<kMode>(x + c + 8, p, c + 8)),
                                              rq32p_lanes<kMode>(x + c + 12, p, c + 12));
        vst1q_s8(y + c, vqmovn_high_s16(vqmovn_s16(h01), h23));
      }
      for (; c < Cv; c += 4) {
        const int16x4_t h = vqmovn_s32(rq32p_lanes<kMode>(x + c, p, c));
        const int8x8_t b = vqmovn_s16(vcombine_s16(h, h));
        vst1_lane_s32(reinterpret_cast<std::int32_t*>(y + c), vreinterpret_s32_s8(b), 0);
      }
      for (; c < C; ++c) y[c] = requant32_prepared_at(p, c, x[c]);
    }
  });
}

}  // namespace

void requant32(const Requant32Args& a, ThreadPool* pool) {
  if (a.prep != nullptr && a.prep->mode == Rq32Mode::kInt32) return rq32p_rows<Rq32Mode::kInt32>(a, pool);
  if (a.prep != nullptr && a.prep->mode == Rq32Mode::kHigh32) return rq32p_rows<Rq32Mode::kHigh32>(a, pool);
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
