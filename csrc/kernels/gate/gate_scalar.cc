// Scalar twins of sigmoid_f32 and mul_f32 (docs/numerics.md §5).
#include <cmath>

#include "kernels/gate/gate.h"

namespace bnnflow::glue::scalar {

void sigmoid_f32(const SigmoidF32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.size, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      a.y[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(a.x[i]))));
    }
  });
}

void mul_f32(const MulF32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0 * C; i < r1 * C; ++i) {
      a.y[i] = a.a[i] * a.b[(i / C / a.b_every) * C + i % C];
    }
  });
}

}  // namespace bnnflow::glue::scalar
