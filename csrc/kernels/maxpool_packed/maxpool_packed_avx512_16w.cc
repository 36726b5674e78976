// AVX-512 packed max-pool kernel: 16 words per vpandd, masked tail.
#include "kernels/bconv/x86_avx512.h"
#include "kernels/maxpool_packed/maxpool_packed.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {
void and_words(uint32_t* acc, const uint32_t* src, int words) {
  int i = 0;
  for (; i + 16 <= words; i += 16) {
    const __m512i s = _mm512_loadu_si512(src + i);
    _mm512_storeu_si512(acc + i, _mm512_and_si512(_mm512_loadu_si512(acc + i), s));
  }
  if (i < words) {
    const __mmask16 m = static_cast<__mmask16>((1u << (words - i)) - 1u);
    const __m512i s = _mm512_maskz_loadu_epi32(m, src + i);
    const __m512i a = _mm512_maskz_loadu_epi32(m, acc + i);
    _mm512_mask_storeu_epi32(acc + i, m, _mm512_and_si512(a, s));
  }
}
}  // namespace
AndWordsFn maxpool_packed_kernel() { return &and_words; }
}  // namespace bnnflow::BNNFLOW_AVX512_NS
