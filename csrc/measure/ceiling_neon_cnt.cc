// NEON ceiling micro-kernel: eor + cnt + uadalp (16-bit accumulators), four broadcast words.
#include <arm_neon.h>

#include "measure/ceiling.h"

namespace bnnflow::neon {
namespace {
uint64_t run(const uint32_t* w, size_t words, int passes) {
  const uint32x4_t b0 = vdupq_n_u32(0x12345678u), b1 = vdupq_n_u32(0x1abcdef0u);
  const uint32x4_t b2 = vdupq_n_u32(0x0f0f0f0fu), b3 = vdupq_n_u32(0x5eadbeefu);
  uint64_t total = 0;
  for (int p = 0; p < passes; ++p) {
    uint16x8_t a0 = vdupq_n_u16(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t k = 0; k < words; k += 4) {  // < 65536 / (4 · 16) vectors per pass
      const uint32x4_t v = vld1q_u32(w + k);
      a0 = vpadalq_u8(a0, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(v, b0))));
      a1 = vpadalq_u8(a1, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(v, b1))));
      a2 = vpadalq_u8(a2, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(v, b2))));
      a3 = vpadalq_u8(a3, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(v, b3))));
    }
    total += vaddlvq_u16(a0) + vaddlvq_u16(a1) + vaddlvq_u16(a2) + vaddlvq_u16(a3);
  }
  return total;
}
const CeilingKernel kCeilingKernels[] = {{"neon-cnt-uadalp", Isa::kNeon, 128, &run, false}};
}  // namespace
CeilingKernelList ceiling_kernels() {
  return {kCeilingKernels, sizeof(kCeilingKernels) / sizeof(kCeilingKernels[0])};
}
}  // namespace bnnflow::neon
