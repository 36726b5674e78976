// Scalar twins of pwl_int8 (docs/numerics.md §3) and pwl_f32 (§5).
#include "kernels/pwl/pwl.h"

namespace bnnflow::glue::scalar {

void pwl_int8(const PwlInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0 * C; i < r1 * C; ++i) {
      const std::size_t c = i % C;
      const std::int32_t q = a.x[i];
      const std::int32_t v = q >= a.t[c] ? wadd32(static_cast<std::int32_t>(a.Mp[c]) * q, a.Bp[c])
                                         : wadd32(static_cast<std::int32_t>(a.Mn[c]) * q, a.Bn[c]);
      a.y[i] = sat8(wadd32(v, round_term32(a.s[c])) >> a.s[c]);
    }
  });
}

void pwl_f32(const PwlF32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0 * C; i < r1 * C; ++i) {
      const std::size_t c = i % C;
      const float x = a.x[i];
      a.y[i] = x >= a.t[c] ? a.kp[c] * x + a.bp[c] : a.kn[c] * x + a.bn[c];
    }
  });
}

}  // namespace bnnflow::glue::scalar
