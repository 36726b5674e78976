// vpmaddwd throughput loop: 10 independent ymm chains, 16 int16 MACs per instruction.
#include <immintrin.h>

#include "measure/mac_peak.h"

namespace bnnflow::glue::avx2 {

std::uint64_t mac_peak_loop(std::uint64_t iterations, std::int32_t* sink) {
  constexpr int kChains = 10;
  __m256i a0 = _mm256_set1_epi32(1);
  __m256i a1 = _mm256_set1_epi32(2);
  __m256i a2 = _mm256_set1_epi32(3);
  __m256i a3 = _mm256_set1_epi32(4);
  __m256i a4 = _mm256_set1_epi32(5);
  __m256i a5 = _mm256_set1_epi32(6);
  __m256i a6 = _mm256_set1_epi32(7);
  __m256i a7 = _mm256_set1_epi32(8);
  __m256i a8 = _mm256_set1_epi32(9);
  __m256i a9 = _mm256_set1_epi32(10);
  const __m256i b = _mm256_set1_epi32(0x00010001);
  for (std::uint64_t it = 0; it < iterations; ++it) {
    a0 = _mm256_madd_epi16(a0, b);
    a1 = _mm256_madd_epi16(a1, b);
    a2 = _mm256_madd_epi16(a2, b);
    a3 = _mm256_madd_epi16(a3, b);
    a4 = _mm256_madd_epi16(a4, b);
    a5 = _mm256_madd_epi16(a5, b);
    a6 = _mm256_madd_epi16(a6, b);
    a7 = _mm256_madd_epi16(a7, b);
    a8 = _mm256_madd_epi16(a8, b);
    a9 = _mm256_madd_epi16(a9, b);
  }
  __m256i s = a0;
  s = _mm256_xor_si256(s, a1);
  s = _mm256_xor_si256(s, a2);
  s = _mm256_xor_si256(s, a3);
  s = _mm256_xor_si256(s, a4);
  s = _mm256_xor_si256(s, a5);
  s = _mm256_xor_si256(s, a6);
  s = _mm256_xor_si256(s, a7);
  s = _mm256_xor_si256(s, a8);
  s = _mm256_xor_si256(s, a9);
  *sink = _mm256_extract_epi32(s, 0);
  return iterations * kChains * 16;
}

}  // namespace bnnflow::glue::avx2
