// The generic residual_rows kernel (residual.h) over lane traits V (kernels/common/vec_*.h).
// Included only by ISA kernel files; everything is TU-local. Channel tails use the scalar
// formula (residual_one), so every lane equals the scalar twin bit for bit.
#pragma once
#include "kernels/add/residual.h"
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {
namespace {

template <class V, bool kPwl>
void residual_rows_impl(const ResidualArgs& a) {
  const ResidualParams& p = *a.p;
  const std::size_t C = p.channels;
  const std::size_t Cv = C - C % V::kI32;
  const typename V::I lo = V::set1(-128), hi = V::set1(127);
  for (std::size_t row = a.r0; row < a.r1; ++row) {
    std::int8_t* y = a.y + row * C;
    const std::int8_t* r = a.r + row * C;
    std::size_t c = 0;
    for (; c < Cv; c += V::kI32) {
      typename V::I v = V::mla(V::ld_i32(p.br + c), V::ld_i8(y + c), V::ld_i32(p.my + c));
      v = V::srav(V::mla(v, V::ld_i8(r + c), V::ld_i32(p.mr + c)), V::ld_i32(p.s + c));
      if constexpr (kPwl) {
        const typename V::I q = V::min(V::max(v, lo), hi);
        const typename V::I vp = V::mla(V::ld_i32(p.bp + c), q, V::ld_i32(p.mp + c));
        const typename V::I vn = V::mla(V::ld_i32(p.bn + c), q, V::ld_i32(p.mn + c));
        v = V::srav(V::select_lt(q, V::ld_i32(p.t + c), vn, vp), V::ld_i32(p.ps + c));
      }
      V::st_sat_i8(y + c, v);
    }
    for (; c < C; ++c) y[c] = residual_one(p, c, y[c], r[c]);
  }
}

template <class V>
void residual_rows_generic(const ResidualArgs& a) {
  if (a.p->pwl) {
    residual_rows_impl<V, true>(a);
  } else {
    residual_rows_impl<V, false>(a);
  }
}

}  // namespace
}  // namespace bnnflow::glue
