// Scalar twin of the packed max-pool kernel.
#include "kernels/maxpool_packed/maxpool_packed.h"

namespace bnnflow::scalar {
namespace {
void and_words(uint32_t* acc, const uint32_t* src, int words) {
  for (int i = 0; i < words; ++i) acc[i] &= src[i];
}
}  // namespace
AndWordsFn maxpool_packed_kernel() { return &and_words; }
}  // namespace bnnflow::scalar
