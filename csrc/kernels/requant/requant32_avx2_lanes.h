// The AVX2 lanes of a prepared requant32 (requant32_plan.h), shared by the requant32 kernel
// (requant_avx2_c8.cc) and the conv2d_int8 register tile that requantises its accumulators
// in place (conv_int8_avx2_3x32.cc). Included only by AVX2 kernel files; TU-local
// (docs/development.md, "Per-ISA objects").
#pragma once
#include <immintrin.h>

#include "kernels/requant/requant.h"

namespace bnnflow::glue::avx2 {
namespace {

inline __m256i rq32p_ld(const std::int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
inline __m256i rq32p_ld(const std::int64_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// The five parameter vectors of one 8-channel step of a prepared requant32, side by side:
// kHigh32 m, m_next, c_even, c_odd, sh; kInt32 lo, hi, m, b32, sh. A kernel that requantises
// many pixels of the same channels (the conv2d_int8 register tile) copies them into one table
// per call and addresses them from one pointer (its epilogue then keeps no per-array pointers).
struct Rq32Lanes {
  __m256i a, b, c, d, e;
};

template <Rq32Mode kMode>
inline Rq32Lanes rq32p_lanes_at(const PreparedRequant32& p, std::size_t c, std::size_t h) {
  if constexpr (kMode == Rq32Mode::kInt32) {
    return {rq32p_ld(p.lo + c), rq32p_ld(p.hi + c), rq32p_ld(p.m + c), rq32p_ld(p.b32 + c),
            rq32p_ld(p.sh + c)};
  } else {
    return {rq32p_ld(p.m + c), rq32p_ld(p.m_next + c), rq32p_ld(p.c_even + h),
            rq32p_ld(p.c_odd + h), rq32p_ld(p.sh + c)};
  }
}

// requant32 of 8 int32 lanes v with the step's parameters t, as the AVX-512 lanes
// (requant32_avx512_lanes.h): kInt32 clamp, vpmulld, add, vpsravd; kHigh32 the high dwords of
// the even / odd vpmuldq products plus C, merged by a shift and a blend, vpsravd by s - 32.
template <Rq32Mode kMode>
inline __m256i rq32p_apply(__m256i v, const Rq32Lanes& t) {
  if constexpr (kMode == Rq32Mode::kInt32) {
    v = _mm256_min_epi32(_mm256_max_epi32(v, t.a), t.b);
    v = _mm256_add_epi32(_mm256_mullo_epi32(v, t.c), t.d);
    return _mm256_srav_epi32(v, t.e);
  } else {
    const __m256i e = _mm256_add_epi64(_mm256_mul_epi32(v, t.a), t.c);
    __m256i o = _mm256_mul_epi32(_mm256_srli_epi64(v, 32), t.b);
    o = _mm256_add_epi64(o, t.d);
    const __m256i hv = _mm256_blend_epi32(_mm256_srli_epi64(e, 32), o, 0xAA);
    return _mm256_srav_epi32(hv, t.e);
  }
}

// requant32 of 8 int32 lanes v, channels c..c+7 (h = c / 2).
template <Rq32Mode kMode>
inline __m256i rq32p_apply(__m256i v, const PreparedRequant32& p, std::size_t c, std::size_t h) {
  return rq32p_apply<kMode>(v, rq32p_lanes_at<kMode>(p, c, h));
}

// 32 int8 results of four rq32p_apply vectors (channels c..c+31 in order): saturating packs
// (per 128-bit lane) and one dword permute.
inline __m256i rq32p_pack32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
  return _mm256_permutevar8x32_epi32(b, order);
}

// 16 int8 results of two rq32p_apply vectors (channels c..c+15 in order): the packs give the
// dwords (v0 0-3, v1 0-3, v0 0-3, v1 0-3 | v0 4-7, v1 4-7, ...); dwords 0, 4, 1, 5 in order.
inline __m128i rq32p_pack16(__m256i v0, __m256i v1) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i w = _mm256_packs_epi32(v0, v1);
  return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_packs_epi16(w, w), order));
}

}  // namespace
}  // namespace bnnflow::glue::avx2
