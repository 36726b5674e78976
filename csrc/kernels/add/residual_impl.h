// The generic residual_rows kernel (residual.h) over lane traits V (kernels/common/vec_*.h).
// Included only by ISA kernel files; everything is TU-local. An ISA may hand whole blocks of
// Block::kBlock channels to a kernel of its own (AVX2: vpmaddwd on (y, r) pairs); the rest
// goes through the generic lanes, channel tails through the scalar formula (residual_one), so
// every lane equals the scalar twin bit for bit.
#pragma once
#include "kernels/add/residual.h"
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {
namespace {

// No ISA block: every channel through the generic lanes.
struct NoResidualBlock {
  static constexpr std::size_t kBlock = 0;
  template <bool kPwl>
  static void run(const ResidualParams&, std::int8_t*, const std::int8_t*, std::size_t) {}
};

// The pwl stage on int32 lanes v (the add's result before saturation) of channels c...
template <class V>
typename V::I residual_pwl(const ResidualParams& p, typename V::I v, std::size_t c) {
  const typename V::I q = V::min(V::max(v, V::set1(-128)), V::set1(127));
  const typename V::I vp = V::mla(V::ld_i32(p.bp + c), q, V::ld_i32(p.mp + c));
  const typename V::I vn = V::mla(V::ld_i32(p.bn + c), q, V::ld_i32(p.mn + c));
  return V::srav(V::select_lt(q, V::ld_i32(p.t + c), vn, vp), V::ld_i32(p.ps + c));
}

template <class V, bool kPwl, class Block>
void residual_rows_impl(const ResidualArgs& a) {
  const ResidualParams& p = *a.p;
  const std::size_t C = p.channels;
  const std::size_t Cb = Block::kBlock > 0 ? C - C % Block::kBlock : 0;
  const std::size_t Cv = C - (C - Cb) % V::kI32;
  for (std::size_t row = a.r0; row < a.r1; ++row) {
    std::int8_t* y = a.y + row * C;
    const std::int8_t* r = a.r + row * C;
    std::size_t c = 0;
    if constexpr (Block::kBlock > 0) {
      for (; c < Cb; c += Block::kBlock) Block::template run<kPwl>(p, y + c, r + c, c);
    }
    for (; c < Cv; c += V::kI32) {
      typename V::I v = V::mla(V::ld_i32(p.br + c), V::ld_i8(y + c), V::ld_i32(p.my + c));
      v = V::srav(V::mla(v, V::ld_i8(r + c), V::ld_i32(p.mr + c)), V::ld_i32(p.s + c));
      if constexpr (kPwl) v = residual_pwl<V>(p, v, c);
      V::st_sat_i8(y + c, v);
    }
    for (; c < C; ++c) y[c] = residual_one(p, c, y[c], r[c]);
  }
}

template <class V, class Block = NoResidualBlock>
void residual_rows_generic(const ResidualArgs& a) {
  if (a.p->pwl) {
    residual_rows_impl<V, true, Block>(a);
  } else {
    residual_rows_impl<V, false, Block>(a);
  }
}

}  // namespace
}  // namespace bnnflow::glue
