// The generic add_int8 and add_f32 kernels,
// written once over a lane-traits type V (kernels/common/vec_avx2.h, vec_avx512.h,
// vec_neon.h). Included only by ISA kernel files; everything is TU-local. Channel tails that
// do not fill a vector use the scalar formula, so every lane and every tail element equals
// the scalar twin bit for bit on integers.
//
// Per-channel int parameters are folded once per call: m (int32), br = B + r with
// r = 2^(s-1) (s > 0), so the lanes compute (m*q + br) >> s.
#pragma once
#include "kernels/add/add.h"
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {
namespace {

template <class V>
void add_int8_impl(const AddInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  GlueBuffer<std::int32_t> ma(C), mb(C), br(C);
  for (std::size_t c = 0; c < C; ++c) {
    ma[c] = a.Ma[c];
    mb[c] = a.Mb[c];
    br[c] = wadd32(a.B[c], round_term32(a.s[c]));
  }
  const std::size_t Cv = C - C % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* xa = a.a + r * C;
      const std::int8_t* xb = a.b + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        typename V::I v = V::mla(V::ld_i32(br.data() + c), V::ld_i8(xa + c), V::ld_i32(ma.data() + c));
        v = V::mla(v, V::ld_i8(xb + c), V::ld_i32(mb.data() + c));
        V::st_sat_i8(y + c, V::srav(v, V::ld_i32(a.s + c)));
      }
      for (; c < C; ++c) {
        const std::int32_t v = wadd32(wadd32(ma[c] * xa[c], mb[c] * xb[c]), br[c]);
        y[c] = sat8(v >> a.s[c]);
      }
    }
  });
}

template <class V>
void add_f32_impl(const AddF32Args& a, ThreadPool* pool) {
  constexpr std::size_t kBlock = 4096;
  const std::size_t blocks = (a.size + kBlock - 1) / kBlock;
  parallel_ranges(pool, blocks, [&](std::size_t b0, std::size_t b1) {
    const std::size_t i0 = b0 * kBlock, i1 = b1 * kBlock < a.size ? b1 * kBlock : a.size;
    std::size_t i = i0;
    for (; i + V::kI32 <= i1; i += V::kI32) V::stf(a.y + i, V::addf(V::ldf(a.a + i), V::ldf(a.b + i)));
    for (; i < i1; ++i) a.y[i] = a.a[i] + a.b[i];
  });
}

}  // namespace
}  // namespace bnnflow::glue
