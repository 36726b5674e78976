// AArch64 NEON lane traits for the generic glue kernels (*_impl.h).
#pragma once
#include "kernels/common/isa_neon.h"

#include <cstdint>
#include <cstring>

namespace bnnflow::glue::BNNFLOW_NEON_NS {
namespace {

struct Vec {
  static constexpr int kI32 = 4;
  static constexpr int kI8 = 16;
  using I = int32x4_t;
  using F = float32x4_t;
  using B = int8x16_t;

  static I ld_i8(const std::int8_t* p) {  // exactly 4 bytes: no over-read
    std::int32_t w;
    std::memcpy(&w, p, 4);
    const int8x8_t b = vreinterpret_s8_s32(vdup_n_s32(w));
    return vmovl_s16(vget_low_s16(vmovl_s8(b)));
  }
  static I ld_i16(const std::int16_t* p) { return vmovl_s16(vld1_s16(p)); }
  static I ld_i32(const std::int32_t* p) { return vld1q_s32(p); }
  static void st_i32(std::int32_t* p, I v) { vst1q_s32(p, v); }
  static I set1(std::int32_t v) { return vdupq_n_s32(v); }
  static I zero() { return vdupq_n_s32(0); }
  static I add(I a, I b) { return vaddq_s32(a, b); }
  static I mul(I a, I b) { return vmulq_s32(a, b); }
  static I mla(I acc, I a, I b) { return vmlaq_s32(acc, a, b); }
  static I srav(I a, I s) { return vshlq_s32(a, vnegq_s32(s)); }
  static I max(I a, I b) { return vmaxq_s32(a, b); }
  static I min(I a, I b) { return vminq_s32(a, b); }
  static I select_lt(I q, I t, I x, I y) { return vbslq_s32(vcltq_s32(q, t), x, y); }
  static void st_sat_i8(std::int8_t* p, I v) {
    const int16x4_t h = vqmovn_s32(v);
    const int8x8_t b = vqmovn_s16(vcombine_s16(h, h));
    vst1_lane_s32(reinterpret_cast<std::int32_t*>(p), vreinterpret_s32_s8(b), 0);
  }

  static F ldf(const float* p) { return vld1q_f32(p); }
  static void stf(float* p, F v) { vst1q_f32(p, v); }
  static F set1f(float v) { return vdupq_n_f32(v); }
  static F zerof() { return vdupq_n_f32(0.0f); }
  static F addf(F a, F b) { return vaddq_f32(a, b); }
  static F mulf(F a, F b) { return vmulq_f32(a, b); }
  static F fma(F acc, F a, F b) { return vfmaq_f32(acc, a, b); }
  static F maxf(F a, F b) { return vmaxq_f32(a, b); }
  static float hsumf(F v) { return vaddvq_f32(v); }
  static F cvtf(I v) { return vcvtq_f32_s32(v); }
  static F select_gef(F x, F t, F a, F b) { return vbslq_f32(vcgeq_f32(x, t), a, b); }

  static B ldb(const std::int8_t* p) { return vld1q_s8(p); }
  static void stb(std::int8_t* p, B v) { vst1q_s8(p, v); }
  static B maxb(B a, B b) { return vmaxq_s8(a, b); }
  static B setb(std::int8_t v) { return vdupq_n_s8(v); }
};

}  // namespace
}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
