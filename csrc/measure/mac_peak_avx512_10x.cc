// vpdpbusd throughput loop: 10 independent zmm chains, 64 u8 x s8 MACs per instruction.
#include "measure/mac_peak.h"
#include "kernels/common/isa_avx512.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

std::uint64_t mac_peak_loop(std::uint64_t iterations, std::int32_t* sink) {
  constexpr int kChains = 10;
  __m512i a0 = _mm512_set1_epi32(1);
  __m512i a1 = _mm512_set1_epi32(2);
  __m512i a2 = _mm512_set1_epi32(3);
  __m512i a3 = _mm512_set1_epi32(4);
  __m512i a4 = _mm512_set1_epi32(5);
  __m512i a5 = _mm512_set1_epi32(6);
  __m512i a6 = _mm512_set1_epi32(7);
  __m512i a7 = _mm512_set1_epi32(8);
  __m512i a8 = _mm512_set1_epi32(9);
  __m512i a9 = _mm512_set1_epi32(10);
  const __m512i u = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);
  for (std::uint64_t it = 0; it < iterations; ++it) {
    a0 = _mm512_dpbusd_epi32(a0, u, b);
    a1 = _mm512_dpbusd_epi32(a1, u, b);
    a2 = _mm512_dpbusd_epi32(a2, u, b);
    a3 = _mm512_dpbusd_epi32(a3, u, b);
    a4 = _mm512_dpbusd_epi32(a4, u, b);
    a5 = _mm512_dpbusd_epi32(a5, u, b);
    a6 = _mm512_dpbusd_epi32(a6, u, b);
    a7 = _mm512_dpbusd_epi32(a7, u, b);
    a8 = _mm512_dpbusd_epi32(a8, u, b);
    a9 = _mm512_dpbusd_epi32(a9, u, b);
  }
  __m512i s = a0;
  s = _mm512_xor_si512(s, a1);
  s = _mm512_xor_si512(s, a2);
  s = _mm512_xor_si512(s, a3);
  s = _mm512_xor_si512(s, a4);
  s = _mm512_xor_si512(s, a5);
  s = _mm512_xor_si512(s, a6);
  s = _mm512_xor_si512(s, a7);
  s = _mm512_xor_si512(s, a8);
  s = _mm512_xor_si512(s, a9);
  *sink = _mm_cvtsi128_si32(_mm512_castsi512_si128(s));
  return iterations * kChains * 64;
}

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
