// The generic requant kernel (int32 -> int8 per channel),
// written once over a lane-traits type V (kernels/common/vec_avx2.h, vec_avx512.h,
// vec_neon.h). Included only by ISA kernel files; everything is TU-local. Channel tails that
// do not fill a vector use the scalar formula, so every lane and every tail element equals
// the scalar twin bit for bit on integers.
//
// Per-channel int parameters are folded once per call: m (int32), br = B + r with
// r = 2^(s-1) (s > 0), so the lanes compute (m*q + br) >> s.
#pragma once
#include "kernels/common/kernel_common.h"
#include "kernels/requant/requant.h"

namespace bnnflow::glue {
namespace {

template <class V>
void requant_impl(const RequantArgs& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  GlueBuffer<std::int32_t> m(C), br(C);
  for (std::size_t c = 0; c < C; ++c) {
    m[c] = a.M[c];
    br[c] = wadd32(a.B[c], round_term32(a.s[c]));
  }
  const std::size_t Cv = C - C % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        typename V::I v = V::mla(V::ld_i32(br.data() + c), V::ld_i8(x + c), V::ld_i32(m.data() + c));
        V::st_sat_i8(y + c, V::srav(v, V::ld_i32(a.s + c)));
      }
      for (; c < C; ++c) y[c] = sat8(wadd32(m[c] * x[c], br[c]) >> a.s[c]);
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
