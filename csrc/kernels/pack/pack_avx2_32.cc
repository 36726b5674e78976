// AVX2 pack kernels: one 32-channel word per vpcmpgtb + vpmovmskb (int8) or four
// vcmpltps + vmovmskps (float32).
#include <immintrin.h>

#include "kernels/common/kernel_common.h"

#include "kernels/pack/pack.h"
#include "kernels/pack/pack_common.h"

namespace bnnflow::avx2 {
namespace {

// The int8 thresholds of up to kStackChannels channels live on the stack: pack_int8 calls this
// once per 64-pixel task (49 times for a 56x56 tensor), and two heap buffers (allocation and
// zeroing) per call cost about as much as the packing itself.
constexpr size_t kStackChannels = 1024;

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  const size_t C = static_cast<size_t>(channels);
  alignas(32) int8_t tc_stack[kStackChannels];
  alignas(32) uint8_t force_stack[kStackChannels];
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
