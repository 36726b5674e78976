// Channel shuffle (ShuffleNet; docs/numerics.md §5), int8 or float32: with C = g*n channels,
// y[r, j*g + i] = x[r, i*n + j] for i < g, j < n, every row r of the NHWC tensor flattened to
// [rows, C]. A pure permutation; the same kernel serves every ISA (the scalar twin is the
// only implementation: a strided byte copy that the compiler vectorises where it can).
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct ChannelShuffleArgs {
  const void* x;          // [rows, channels]
  void* y;                // [rows, channels], not aliasing x
  std::size_t rows;
  std::size_t channels;   // C, a multiple of groups
  std::size_t groups;     // g >= 1
  std::size_t elem_size;  // bytes per element: 1 (int8) or 4 (float32)
};

void channel_shuffle(const ChannelShuffleArgs& a, ThreadPool* pool);

}  // namespace bnnflow::glue
