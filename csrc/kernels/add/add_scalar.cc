// Scalar twins of add_int8 (docs/numerics.md §3) and add_f32.
#include "kernels/add/add.h"
#include "kernels/add/residual.h"

namespace bnnflow::glue::scalar {

void add_int8(const AddInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0 * C; i < r1 * C; ++i) {
      const std::size_t c = i % C;
      std::int32_t v = wadd32(static_cast<std::int32_t>(a.Ma[c]) * a.a[i],
                              static_cast<std::int32_t>(a.Mb[c]) * a.b[i]);
      v = wadd32(wadd32(v, a.B[c]), round_term32(a.s[c])) >> a.s[c];
      a.y[i] = sat8(v);
    }
  });
}

void add_f32(const AddF32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.size, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) a.y[i] = a.a[i] + a.b[i];
  });
}

void residual_rows(const ResidualArgs& a) {
  const std::size_t C = a.p->channels;
  for (std::size_t i = a.r0 * C; i < a.r1 * C; ++i) {
    a.y[i] = residual_one(*a.p, i % C, a.y[i], a.r[i]);
  }
}

}  // namespace bnnflow::glue::scalar
