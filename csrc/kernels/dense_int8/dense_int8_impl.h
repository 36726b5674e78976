// The ISA-independent part of the SIMD dense_int8 kernels, written once: the work split over
// (row n, block of kDenseBlock outputs), 4 outputs at a time then singles, and the finish of
// one output. An ISA supplies only Rows::run<R>(a, n, o): outputs o..o+R-1 of row n, each
// through dense_finish. Included only by ISA kernel files; everything is TU-local.
#pragma once
#include "kernels/common/kernel_common.h"
#include "kernels/dense_int8/dense_int8.h"

namespace bnnflow::glue {
namespace {

// y[n, o] = bias[o] + vec_sum + sum_{k >= c} w[o, k] * x[n, k] (int32, wrapping): the vector
// part's sum over inputs [0, c) and the scalar tail.
inline void dense_finish(const DenseInt8Args& a, std::size_t n, std::size_t o, std::size_t c,
                         std::int32_t vec_sum) {
  const std::int8_t* x = a.x + n * a.Cin;
  std::uint32_t s = static_cast<std::uint32_t>(a.bias[o]);
  s += static_cast<std::uint32_t>(vec_sum);
  for (std::size_t k = c; k < a.Cin; ++k) {
    s += static_cast<std::uint32_t>(static_cast<std::int32_t>(a.w[o * a.Cin + k]) * x[k]);
  }
  a.y[n * a.Cout + o] = static_cast<std::int32_t>(s);
}

template <class Rows>
void dense_int8_impl(const DenseInt8Args& a, ThreadPool* pool) {
  const std::size_t nb = (a.Cout + kDenseBlock - 1) / kDenseBlock;
  parallel_ranges(pool, a.N * nb, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / nb, o0 = (u % nb) * kDenseBlock;
      const std::size_t o1 = o0 + kDenseBlock < a.Cout ? o0 + kDenseBlock : a.Cout;
      std::size_t o = o0;
      for (; o + 4 <= o1; o += 4) Rows::template run<4>(a, n, o);
      for (; o < o1; ++o) Rows::template run<1>(a, n, o);
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
