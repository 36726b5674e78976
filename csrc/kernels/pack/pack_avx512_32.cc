// AVX-512 pack kernels: one 32-channel word per vpcmpb-to-mask (AVX512BW) or two
// vcmpps-to-mask compares.
#include "kernels/common/kernel_common.h"

#include "kernels/common/isa_avx512.h"
#include "kernels/pack/pack.h"
#include "kernels/pack/pack_common.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  const pack_detail::Int8Thresholds th(t, channels);  // on the stack for <= 1024 channels
  const int8_t* const tc = th.tc();
  const uint8_t* const force = th.force();
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [=](const int8_t* xr, int c0) {
    // 32 channels in the low half of a zmm register (upper half zero; its mask bits dropped).
    const __m512i zero = _mm512_setzero_si512();
    const __m512i xv = _mm512_inserti64x4(
        zero, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + c0)), 0);
    const __m512i tv = _mm512_inserti64x4(
        zero, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tc + c0)), 0);
    const __m512i fv = _mm512_inserti64x4(
        zero, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(force + c0)), 0);
    const uint64_t lt = _mm512_cmplt_epi8_mask(xv, tv) | _mm512_test_epi8_mask(fv, fv);
    return static_cast<uint32_t>(lt);
  });
}

void f32(const float* x, const float* t, size_t p0, size_t p1, int channels, int groups,
         uint32_t* out) {
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [&](const float* xr, int c0) {
    const uint32_t a = _mm512_cmp_ps_mask(_mm512_loadu_ps(xr + c0), _mm512_loadu_ps(t + c0),
                                           _CMP_LT_OQ);
    const uint32_t b = _mm512_cmp_ps_mask(_mm512_loadu_ps(xr + c0 + 16),
                                           _mm512_loadu_ps(t + c0 + 16), _CMP_LT_OQ);
    return static_cast<uint32_t>(a) | (static_cast<uint32_t>(b) << 16);
  });
}

const PackKernels kKernels{&int8, &f32};

}  // namespace

const PackKernels& pack_kernels() { return kKernels; }

}  // namespace bnnflow::BNNFLOW_AVX512_NS
