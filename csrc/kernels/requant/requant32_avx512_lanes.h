// The AVX-512 lanes of a prepared requant32 (requant32_plan.h), shared by the requant32
// kernel (requant_avx512_c16.cc) and the conv2d_int8 register tile that requantises its
// accumulators in place (conv_int8_avx512_6x64.cc). Included only by AVX-512 kernel files;
// TU-local (docs/development.md, "Per-ISA objects").
#pragma once
#include "kernels/common/isa_avx512.h"
#include "kernels/requant/requant.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

// requant32 of 16 int32 lanes v, channels c..c+15 (h = c / 2: the int64 tables' index), as
// int32 lanes in [-128, 127] after the caller's saturating packs. kInt32: clamp, vpmulld, add,
// vpsravd. kHigh32: the even lanes' int64 products m*v + C in e, the odd lanes' in o (v and m
// shifted by one dword), their high dwords merged into 16 int32 lanes (e >> 32 in the even
// lanes, o's odd dwords in the odd ones), vpsravd by s - 32.
template <Rq32Mode kMode>
inline __m512i rq32p_apply(__m512i v, const PreparedRequant32& p, std::size_t c, std::size_t h) {
  if constexpr (kMode == Rq32Mode::kInt32) {
    v = _mm512_max_epi32(v, _mm512_loadu_si512(p.lo + c));
    v = _mm512_min_epi32(v, _mm512_loadu_si512(p.hi + c));
    v = _mm512_add_epi32(_mm512_mullo_epi32(v, _mm512_loadu_si512(p.m + c)),
                         _mm512_loadu_si512(p.b32 + c));
    return _mm512_srav_epi32(v, _mm512_loadu_si512(p.sh + c));
  } else {
    __m512i e = _mm512_mul_epi32(v, _mm512_loadu_si512(p.m + c));
    __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(v, 32), _mm512_loadu_si512(p.m_next + c));
    e = _mm512_add_epi64(e, _mm512_loadu_si512(p.c_even + h));
    o = _mm512_add_epi64(o, _mm512_loadu_si512(p.c_odd + h));
    const __m512i hv = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e, 32), o);
    return _mm512_srav_epi32(hv, _mm512_loadu_si512(p.sh + c));
  }
}

// 64 int8 results of four rq32p_apply vectors (channels c..c+63 in order): saturating packs
// (int32 -> int16 -> int8 per 128-bit lane) and one dword permute.
inline __m512i rq32p_pack64(__m512i v0, __m512i v1, __m512i v2, __m512i v3) {
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(v0, v1), _mm512_packs_epi32(v2, v3));
  return _mm512_permutexvar_epi32(order, b);
}

}  // namespace
}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
