// Scalar twin of dense_int8.
#include "kernels/dense_int8/dense_int8.h"

namespace bnnflow::glue::scalar {

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.N * a.Cout, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / a.Cout, o = u % a.Cout;
      std::uint32_t acc = static_cast<std::uint32_t>(a.bias[o]);
      for (std::size_t c = 0; c < a.Cin; ++c) {
        acc += static_cast<std::uint32_t>(static_cast<std::int32_t>(a.w[o * a.Cin + c]) * a.x[n * a.Cin + c]);
      }
      a.y[u] = static_cast<std::int32_t>(acc);
    }
  });
}

}  // namespace bnnflow::glue::scalar
