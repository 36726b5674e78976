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

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  const pack_detail::Int8Thresholds th(t, channels);  // on the stack for <= 1024 channels
  const int8_t* const tc = th.tc();
  const uint8_t* const force = th.force();
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [=](const int8_t* xr, int c0) {
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
