// Float32 gating ops of the float data-flow (docs/numerics.md §5; RealToBinaryNet's
// data-dependent scaling: global pool -> dense -> dense -> sigmoid, multiplied into the
// activations):
//   sigmoid_f32 : y = 1 / (1 + exp(-x))
//   mul_f32     : y[r, c] = a[r, c] * b[r / b_every, c]   (b_every = 1: same shape; = H*W:
//                 b is [N, C], one factor per sample and channel, broadcast over H and W)
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct SigmoidF32Args {
  const float* x;
  float* y;
  std::size_t size;
};

struct MulF32Args {
  const float* a;         // [rows, channels]
  const float* b;         // [rows / b_every, channels]
  float* y;               // [rows, channels]
  std::size_t rows, channels;
  std::size_t b_every;    // >= 1, divides rows
};

#define BNNFLOW_GLUE_GATE_KERNELS                              \
  void sigmoid_f32(const SigmoidF32Args& a, ThreadPool* pool); \
  void mul_f32(const MulF32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_GATE_KERNELS)

}  // namespace bnnflow::glue
