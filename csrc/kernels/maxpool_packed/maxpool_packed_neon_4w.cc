// NEON packed max-pool kernel: 4 words per vand.
#include <arm_neon.h>

#include "kernels/maxpool_packed/maxpool_packed.h"

namespace bnnflow::neon {
namespace {
void and_words(uint32_t* acc, const uint32_t* src, int words) {
  int i = 0;
  for (; i + 4 <= words; i += 4) vst1q_u32(acc + i, vandq_u32(vld1q_u32(acc + i), vld1q_u32(src + i)));
  for (; i < words; ++i) acc[i] &= src[i];
}
}  // namespace
AndWordsFn maxpool_packed_kernel() { return &and_words; }
}  // namespace bnnflow::neon
