// AVX2 packed max-pool kernel: 8 words per vpand.
#include <immintrin.h>

#include "kernels/maxpool_packed/maxpool_packed.h"

namespace bnnflow::avx2 {
namespace {
void and_words(uint32_t* acc, const uint32_t* src, int words) {
  int i = 0;
  for (; i + 8 <= words; i += 8) {
    __m256i* a = reinterpret_cast<__m256i*>(acc + i);
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(a, _mm256_and_si256(_mm256_loadu_si256(a), s));
  }
  for (; i < words; ++i) acc[i] &= src[i];
}
}  // namespace
AndWordsFn maxpool_packed_kernel() { return &and_words; }
}  // namespace bnnflow::avx2
