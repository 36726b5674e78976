// AVX-512 ceiling micro-kernel: vpxord + vpopcntd (VPOPCNTDQ) + vpaddd, four broadcast words.
#include "measure/ceiling.h"
#include "kernels/common/isa_avx512.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {
uint64_t run(const uint32_t* w, size_t words, int passes) {
  const __m512i b0 = _mm512_set1_epi32(0x12345678), b1 = _mm512_set1_epi32(0x1abcdef0);
  const __m512i b2 = _mm512_set1_epi32(0x0f0f0f0f), b3 = _mm512_set1_epi32(0x5eadbeef);
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int p = 0; p < passes; ++p) {
    for (size_t k = 0; k < words; k += 16) {
      const __m512i v = _mm512_loadu_si512(w + k);
      a0 = _mm512_add_epi32(a0, _mm512_popcnt_epi32(_mm512_xor_si512(v, b0)));
      a1 = _mm512_add_epi32(a1, _mm512_popcnt_epi32(_mm512_xor_si512(v, b1)));
      a2 = _mm512_add_epi32(a2, _mm512_popcnt_epi32(_mm512_xor_si512(v, b2)));
      a3 = _mm512_add_epi32(a3, _mm512_popcnt_epi32(_mm512_xor_si512(v, b3)));
    }
  }
  const __m512i s = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
  return static_cast<uint64_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(s)));
}
const CeilingKernel kCeilingKernels[] = {{"avx512-vpopcntd", Isa::kAvx512, 128, &run, false}};
}  // namespace
CeilingKernelList ceiling_kernels() {
  return {kCeilingKernels, sizeof(kCeilingKernels) / sizeof(kCeilingKernels[0])};
}
}  // namespace bnnflow::BNNFLOW_AVX512_NS
