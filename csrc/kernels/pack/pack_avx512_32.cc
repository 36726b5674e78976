// AVX-512 pack kernels: one 32-channel word per vpcmpb-to-mask (AVX512BW) or two
// vcmpps-to-mask compares.
#include "kernels/common/kernel_common.h"

#include "kernels/common/isa_avx512.h"
#include "kernels/pack/pack.h"
#include "kernels/pack/pack_common.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {

// The int8 thresholds of up to kStackChannels channels live on the stack (as on AVX2):
// pack_int8 calls this once per 64-pixel task (49 times for a 56x56 tensor), and two heap
// buffers (allocation and zeroing) per call cost more than packing a 64-channel task.
constexpr size_t kStackChannels = 1024;

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  const size_t C = static_cast<size_t>(channels);
  alignas(64) int8_t tc_stack[kStackChannels];
  alignas(64) uint8_t force_stack[kStackChannels];
  glue::GlueBuffer<int8_t> tc_heap;
  glue::GlueBuffer<uint8_t> force_heap;
  if (C > kStackChannels) {
    tc_heap.allocate(C);
    force_heap.allocate(C);
  }
  int8_t* const tc = C > kStackChannels ? tc_heap.data() : tc_stack;
  uint8_t* const force = C > kStackChannels ? force_heap.data() : force_stack;
  pack_detail::int8_thresholds(t, channels, tc, force);
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [&](const int8_t* xr, int c0) {
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
