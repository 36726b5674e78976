// AVX-512 packed max-pool kernel: 16 words per vpandd.
#include "kernels/common/isa_avx512.h"
#include "kernels/maxpool_packed/maxpool_packed.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {
void and_words(uint32_t* acc, const uint32_t* src, int words) {
  int i = 0;
  for (; i + 16 <= words; i += 16) {
    const __m512i s = _mm512_loadu_si512(src + i);
    _mm512_storeu_si512(acc + i, _mm512_and_si512(_mm512_loadu_si512(acc + i), s));
  }
  for (; i < words; ++i) acc[i] &= src[i];
}
}  // namespace
AndWordsFn maxpool_packed_kernel() { return &and_words; }
}  // namespace bnnflow::BNNFLOW_AVX512_NS
