// The generic gate kernels, written once over a lane-traits type V (kernels/common/vec_*.h).
// Included only by ISA kernel files; everything is TU-local.
//
// mul_f32 multiplies V::kI32 lanes at a time (one float32 product per element, as the scalar
// twin: bit-identical). sigmoid_f32 has no vector form: it runs on the [N, C] gate vectors
// (RealToBinaryNet: at most 512 values per image, next to millions of conv MACs), and every
// ISA computes the scalar twin's formula, in double rounded once to float32, so all ISAs
// agree with each other and with the reference (numpy's float64 formula) to the last bit
// but for exp's own last-bit differences.
#pragma once
#include <cmath>

#include "kernels/common/kernel_common.h"
#include "kernels/gate/gate.h"

namespace bnnflow::glue {
namespace {

inline float sigmoid_one(float x) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
}

inline void sigmoid_f32_loop(const SigmoidF32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.size, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) a.y[i] = sigmoid_one(a.x[i]);
  });
}

template <class V>
void mul_f32_impl(const MulF32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  const std::size_t Cv = C - C % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* x = a.a + r * C;
      const float* g = a.b + (r / a.b_every) * C;
      float* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) V::stf(y + c, V::mulf(V::ldf(x + c), V::ldf(g + c)));
      for (; c < C; ++c) y[c] = x[c] * g[c];
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
