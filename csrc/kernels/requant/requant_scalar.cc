// Scalar twins of requant / requant32: the formulas of docs/numerics.md §3, one element at a
// time (int32 / int64 arithmetic that wraps exactly like the SIMD lanes); a prepared requant32
// (requant32_plan.h) one element at a time through requant32_prepared_at.
#include "kernels/requant/requant.h"

namespace bnnflow::glue::scalar {

void requant(const RequantArgs& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      for (std::size_t c = 0; c < C; ++c) {
        const std::int32_t q = a.x[r * C + c];
        std::int32_t v = wadd32(static_cast<std::int32_t>(a.M[c]) * q, a.B[c]);
        v = wadd32(v, round_term32(a.s[c])) >> a.s[c];
        a.y[r * C + c] = sat8(v);
      }
    }
  });
}

void requant32(const Requant32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  if (a.prep != nullptr && a.prep->mode != Rq32Mode::kInt64) {
    const PreparedRequant32& p = *a.prep;
    parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        for (std::size_t c = 0; c < C; ++c) a.y[r * C + c] = requant32_prepared_at(p, c, a.x[r * C + c]);
      }
    });
    return;
  }
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      for (std::size_t c = 0; c < C; ++c) {
        const std::int64_t x = a.x[r * C + c];
        std::int64_t v = wadd64(static_cast<std::int64_t>(a.M[c]) * x, a.B[c]);
        v = wadd64(v, round_term64(a.s[c])) >> a.s[c];
        a.y[r * C + c] = sat8(v);
      }
    }
  });
}

}  // namespace bnnflow::glue::scalar
