// The NEON lanes of a prepared requant32 (requant32_plan.h), shared by the requant32 kernel
// (requant_neon_c4.cc) and the dwconv2d_int8 tile that requantises its accumulators in place
// (dwconv_int8_neon_c4.cc). Included only by NEON kernel files; TU-local (docs/development.md,
// "Per-ISA objects").
#pragma once
#include "kernels/common/isa_neon.h"
#include "kernels/requant/requant.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {
namespace {

// requant32 of 4 int32 lanes v, channels c..c+3, as int32 lanes for the caller's saturating
// narrows. kInt32: clamp, vmla, vshl by -s. kHigh32: vmlal (C + m*v in int64, channel order),
// the high halves by vuzp2, vshl by -(s-32).
template <Rq32Mode kMode>
inline int32x4_t rq32p_apply(int32x4_t v, const PreparedRequant32& p, std::size_t c) {
  if constexpr (kMode == Rq32Mode::kInt32) {
    v = vminq_s32(vmaxq_s32(v, vld1q_s32(p.lo + c)), vld1q_s32(p.hi + c));
    v = vmlaq_s32(vld1q_s32(p.b32 + c), v, vld1q_s32(p.m + c));
    return vshlq_s32(v, vnegq_s32(vld1q_s32(p.sh + c)));
  } else {
    const int32x4_t mv = vld1q_s32(p.m + c);
    const int64x2_t lo = vmlal_s32(vld1q_s64(p.c64 + c), vget_low_s32(v), vget_low_s32(mv));
    const int64x2_t hi = vmlal_high_s32(vld1q_s64(p.c64 + c + 2), v, mv);
    const int32x4_t h = vuzp2q_s32(vreinterpretq_s32_s64(lo), vreinterpretq_s32_s64(hi));
    return vshlq_s32(h, vnegq_s32(vld1q_s32(p.sh + c)));
  }
}

}  // namespace
}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
