// AVX-512 (F/BW/VL) lane traits for the generic glue kernels (*_impl.h).
#pragma once
#include <cstdint>

#include "kernels/common/isa_avx512.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

struct Vec {
  static constexpr int kI32 = 16;
  static constexpr int kI8 = 64;
  using I = __m512i;
  using F = __m512;
  using B = __m512i;

  static I ld_i8(const std::int8_t* p) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I ld_i16(const std::int16_t* p) {
    return _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static I ld_i32(const std::int32_t* p) { return _mm512_loadu_si512(p); }
  static void st_i32(std::int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  static I set1(std::int32_t v) { return _mm512_set1_epi32(v); }
  static I zero() { return _mm512_setzero_si512(); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I mul(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I mla(I acc, I a, I b) { return _mm512_add_epi32(acc, _mm512_mullo_epi32(a, b)); }
  static I srav(I a, I s) { return _mm512_srav_epi32(a, s); }
  // vpmaddwd, and acc + vpmaddwd in one vpdpwssd (common/isa_avx512.h)
  static I madd16(I a, I b) { return bnnflow::BNNFLOW_AVX512_NS::madd16(a, b); }
  static I madd16_add(I acc, I a, I b) { return bnnflow::BNNFLOW_AVX512_NS::madd16_add(acc, a, b); }
  static I max(I a, I b) { return _mm512_max_epi32(a, b); }
  static I min(I a, I b) { return _mm512_min_epi32(a, b); }
  static I select_lt(I q, I t, I x, I y) {
    return _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(q, t), y, x);
  }
  static void st_sat_i8(std::int8_t* p, I v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtsepi32_epi8(v));
  }

  static F ldf(const float* p) { return _mm512_loadu_ps(p); }
  static void stf(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F set1f(float v) { return _mm512_set1_ps(v); }
  static F zerof() { return _mm512_setzero_ps(); }
  static F addf(F a, F b) { return _mm512_add_ps(a, b); }
  static F mulf(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F acc, F a, F b) { return _mm512_fmadd_ps(a, b, acc); }
  static F maxf(F a, F b) { return _mm512_max_ps(a, b); }
  static float hsumf(F v) { return _mm512_reduce_add_ps(v); }
  static F cvtf(I v) { return _mm512_cvtepi32_ps(v); }
  static F select_gef(F x, F t, F a, F b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, t, _CMP_GE_OQ), b, a);
  }

  static B ldb(const std::int8_t* p) { return _mm512_loadu_si512(p); }
  static void stb(std::int8_t* p, B v) { _mm512_storeu_si512(p, v); }
  static B maxb(B a, B b) { return _mm512_max_epi8(a, b); }
  static B setb(std::int8_t v) { return _mm512_set1_epi8(v); }
};

}  // namespace
}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
