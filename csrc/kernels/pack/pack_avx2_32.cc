// AVX2 pack kernels: one 32-channel word per vpcmpgtb + vpmovmskb (int8) or four
// vcmpltps + vmovmskps (float32).
#include <immintrin.h>

#include "kernels/common/kernel_common.h"

#include "kernels/pack/pack.h"
#include "kernels/pack/pack_common.h"

namespace bnnflow::avx2 {
namespace {

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  const pack_detail::Int8Thresholds th(t, channels);  // on the stack for <= 1024 channels
  const int8_t* const tc = th.tc();
  const uint8_t* const force = th.force();
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [=](const int8_t* xr, int c0) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + c0));
    const __m256i tv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tc + c0));
    const __m256i fv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(force + c0));
    const __m256i lt = _mm256_or_si256(_mm256_cmpgt_epi8(tv, xv), fv);
    return static_cast<uint32_t>(_mm256_movemask_epi8(lt));
  });
}

void f32(const float* x, const float* t, size_t p0, size_t p1, int channels, int groups,
         uint32_t* out) {
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [&](const float* xr, int c0) {
    uint32_t bits = 0;
    for (int k = 0; k < 4; ++k) {
      const __m256 lt = _mm256_cmp_ps(_mm256_loadu_ps(xr + c0 + 8 * k),
                                      _mm256_loadu_ps(t + c0 + 8 * k), _CMP_LT_OQ);
      bits |= static_cast<uint32_t>(_mm256_movemask_ps(lt)) << (8 * k);
    }
    return bits;
  });
}

const PackKernels kKernels{&int8, &f32};

}  // namespace

const PackKernels& pack_kernels() { return kKernels; }

}  // namespace bnnflow::avx2
