// Max pooling on packed bits (docs/numerics.md §5): max of ±1 values = AND of their bits, over
// the taps inside the image (padded taps are ignored). x [n][h][w][words] -> out
// [n][Ho][Wo][words], Ho = (h + pad_top + pad_bottom − kh) / stride + 1; output (oy, ox) reads
// the taps at (oy·stride − pad_top + ky, ox·stride − pad_left + kx). Needs every side's padding
// below the kernel (pad_top, pad_bottom < kh; pad_left, pad_right < kw) so every window holds at
// least one tap inside the image.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/cpu_features.h"
#include "common/isa_list.h"
#include "common/threadpool.h"

namespace bnnflow {

struct PoolGeometry {
  int n = 1, h = 1, w = 1, words = 1;
  int kh = 1, kw = 1, stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

void maxpool_packed(const uint32_t* x, const PoolGeometry& geo, uint32_t* out, Isa isa,
                    ThreadPool& pool);

// One ISA's kernel: acc[i] &= src[i] for i < words.
using AndWordsFn = void (*)(uint32_t* acc, const uint32_t* src, int words);

BNNFLOW_DECLARE_ISAS(AndWordsFn maxpool_packed_kernel();)
AndWordsFn maxpool_packed_kernel(Isa isa);

// The ISA-independent loop around `kernel` (exposed so tests can run any kernel build).
void maxpool_packed_with(const uint32_t* x, const PoolGeometry& geo, uint32_t* out,
                         AndWordsFn kernel, ThreadPool& pool);

}  // namespace bnnflow
