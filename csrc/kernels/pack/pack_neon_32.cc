// NEON pack kernels: byte compares (cmgt) / float compares (fcmgt), masked with the lane's bit
// weight and summed across lanes (addv) into the word's bits.
#include <arm_neon.h>

#include "kernels/common/kernel_common.h"

#include "kernels/pack/pack.h"
#include "kernels/pack/pack_common.h"

namespace bnnflow::neon {
namespace {

inline uint32_t bits16(uint8x16_t m) {
  static const uint8_t kWeights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                       1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t b = vandq_u8(m, vld1q_u8(kWeights));
  return static_cast<uint32_t>(vaddv_u8(vget_low_u8(b))) |
         (static_cast<uint32_t>(vaddv_u8(vget_high_u8(b))) << 8);
}

// The int8 thresholds of up to kStackChannels channels live on the stack (as on AVX2):
// pack_int8 calls this once per 64-pixel task (49 times for a 56x56 tensor), and two heap
// buffers (allocation and zeroing) per call cost more than packing a 64-channel task.
constexpr size_t kStackChannels = 1024;

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  const size_t C = static_cast<size_t>(channels);
  alignas(16) int8_t tc_stack[kStackChannels];
  alignas(16) uint8_t force_stack[kStackChannels];
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
    uint32_t bits = 0;
    for (int k = 0; k < 2; ++k) {
      const int c = c0 + 16 * k;
      const uint8x16_t lt = vorrq_u8(vcltq_s8(vld1q_s8(xr + c), vld1q_s8(tc + c)),
                                     vld1q_u8(force + c));
      bits |= bits16(lt) << (16 * k);
    }
    return bits;
  });
}

void f32(const float* x, const float* t, size_t p0, size_t p1, int channels, int groups,
         uint32_t* out) {
  static const uint32_t kWeights[4] = {1, 2, 4, 8};
  const uint32x4_t wts = vld1q_u32(kWeights);
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [&](const float* xr, int c0) {
    uint32_t bits = 0;
    for (int k = 0; k < 8; ++k) {
      const uint32x4_t lt = vcltq_f32(vld1q_f32(xr + c0 + 4 * k), vld1q_f32(t + c0 + 4 * k));
      bits |= vaddvq_u32(vandq_u32(lt, wts)) << (4 * k);
    }
    return bits;
  });
}

const PackKernels kKernels{&int8, &f32};

}  // namespace

const PackKernels& pack_kernels() { return kKernels; }

}  // namespace bnnflow::neon
