// AVX2 lane traits for the generic glue kernels (*_impl.h): int32 / float32 lanes and int8
// bytes. Only included by *_avx2_*.cc files (compiled with -mavx2 -mfma).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace bnnflow::glue::avx2 {
namespace {

struct Vec {
  static constexpr int kI32 = 8;  // int32 / float32 lanes
  static constexpr int kI8 = 32;  // int8 lanes
  using I = __m256i;
  using F = __m256;
  using B = __m256i;

  static I ld_i8(const std::int8_t* p) {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static I ld_i16(const std::int16_t* p) {
    return _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I ld_i32(const std::int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static void st_i32(std::int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static I set1(std::int32_t v) { return _mm256_set1_epi32(v); }
  static I zero() { return _mm256_setzero_si256(); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I mul(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I mla(I acc, I a, I b) { return _mm256_add_epi32(acc, _mm256_mullo_epi32(a, b)); }
  static I srav(I a, I s) { return _mm256_srav_epi32(a, s); }
  static I max(I a, I b) { return _mm256_max_epi32(a, b); }
  static I min(I a, I b) { return _mm256_min_epi32(a, b); }
  // q < t ? x : y
  static I select_lt(I q, I t, I x, I y) {
    return _mm256_blendv_epi8(y, x, _mm256_cmpgt_epi32(t, q));
  }
  // Saturating int32 -> int8 (the saturating packs compose to clamp(v, -128, 127)).
  static void st_sat_i8(std::int8_t* p, I v) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(w, w));
  }

  static F ldf(const float* p) { return _mm256_loadu_ps(p); }
  static void stf(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F set1f(float v) { return _mm256_set1_ps(v); }
  static F zerof() { return _mm256_setzero_ps(); }
  static F addf(F a, F b) { return _mm256_add_ps(a, b); }
  static F mulf(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F acc, F a, F b) { return _mm256_fmadd_ps(a, b, acc); }  // acc + a*b
  static F maxf(F a, F b) { return _mm256_max_ps(a, b); }
  static float hsumf(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static F cvtf(I v) { return _mm256_cvtepi32_ps(v); }
  // x >= t ? a : b
  static F select_gef(F x, F t, F a, F b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, t, _CMP_GE_OQ));
  }

  static B ldb(const std::int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void stb(std::int8_t* p, B v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static B maxb(B a, B b) { return _mm256_max_epi8(a, b); }
  static B setb(std::int8_t v) { return _mm256_set1_epi8(v); }
};

}  // namespace
}  // namespace bnnflow::glue::avx2
