// Scalar ceiling micro-kernel (portable 32-bit popcount).
#include "measure/ceiling.h"

namespace bnnflow::scalar {
namespace {
uint64_t run(const uint32_t* w, size_t words, int passes) {
  uint32_t acc[4] = {0, 0, 0, 0};
  const uint32_t x[4] = {0x12345678u, 0x9abcdef0u, 0x0f0f0f0fu, 0xdeadbeefu};
  for (int p = 0; p < passes; ++p) {
    for (size_t j = 0; j < words; ++j) {
      for (int i = 0; i < 4; ++i) acc[i] += __builtin_popcount(w[j] ^ x[i]);
    }
  }
  return static_cast<uint64_t>(acc[0]) + acc[1] + acc[2] + acc[3];
}
const CeilingKernel kCeilingKernels[] = {{"scalar-popcount32", Isa::kScalar, 128, &run, false}};
}  // namespace
CeilingKernelList ceiling_kernels() {
  return {kCeilingKernels, sizeof(kCeilingKernels) / sizeof(kCeilingKernels[0])};
}
}  // namespace bnnflow::scalar
