// vmlal_s16 throughput loop: 10 independent int32x4 chains, 4 int16 MACs per instruction.
#include "kernels/common/isa_neon.h"

#include "measure/mac_peak.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

std::uint64_t mac_peak_loop(std::uint64_t iterations, std::int32_t* sink) {
  constexpr int kChains = 10;
  int32x4_t a0 = vdupq_n_s32(1);
  int32x4_t a1 = vdupq_n_s32(2);
  int32x4_t a2 = vdupq_n_s32(3);
  int32x4_t a3 = vdupq_n_s32(4);
  int32x4_t a4 = vdupq_n_s32(5);
  int32x4_t a5 = vdupq_n_s32(6);
  int32x4_t a6 = vdupq_n_s32(7);
  int32x4_t a7 = vdupq_n_s32(8);
  int32x4_t a8 = vdupq_n_s32(9);
  int32x4_t a9 = vdupq_n_s32(10);
  const int16x4_t u = vdup_n_s16(1), b = vdup_n_s16(-1);
  for (std::uint64_t it = 0; it < iterations; ++it) {
    a0 = vmlal_s16(a0, u, b);
    a1 = vmlal_s16(a1, u, b);
    a2 = vmlal_s16(a2, u, b);
    a3 = vmlal_s16(a3, u, b);
    a4 = vmlal_s16(a4, u, b);
    a5 = vmlal_s16(a5, u, b);
    a6 = vmlal_s16(a6, u, b);
    a7 = vmlal_s16(a7, u, b);
    a8 = vmlal_s16(a8, u, b);
    a9 = vmlal_s16(a9, u, b);
  }
  int32x4_t s = a0;
  s = veorq_s32(s, a1);
  s = veorq_s32(s, a2);
  s = veorq_s32(s, a3);
  s = veorq_s32(s, a4);
  s = veorq_s32(s, a5);
  s = veorq_s32(s, a6);
  s = veorq_s32(s, a7);
  s = veorq_s32(s, a8);
  s = veorq_s32(s, a9);
  *sink = vgetq_lane_s32(s, 0);
  return iterations * kChains * 4;
}

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
