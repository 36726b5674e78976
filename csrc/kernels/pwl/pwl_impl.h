// The generic pwl_int8 and pwl_f32 kernels (piecewise-linear activations),
// written once over a lane-traits type V (kernels/common/vec_avx2.h, vec_avx512.h,
// vec_neon.h). Included only by ISA kernel files; everything is TU-local. Channel tails that
// do not fill a vector use the scalar formula, so every lane and every tail element equals
// the scalar twin bit for bit on integers.
//
// Per-channel int parameters are folded once per call: m (int32), br = B + r with
// r = 2^(s-1) (s > 0), so the lanes compute (m*q + br) >> s.
#pragma once
#include "kernels/common/kernel_common.h"
#include "kernels/pwl/pwl.h"

namespace bnnflow::glue {
namespace {

template <class V>
void pwl_int8_impl(const PwlInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  GlueBuffer<std::int32_t> mp(C), bp(C), mn(C), bn(C);
  for (std::size_t c = 0; c < C; ++c) {
    const std::int32_t r = round_term32(a.s[c]);
    mp[c] = a.Mp[c];
    mn[c] = a.Mn[c];
    bp[c] = wadd32(a.Bp[c], r);
    bn[c] = wadd32(a.Bn[c], r);
  }
  const std::size_t Cv = C - C % V::kI32;
  // Every pointer in a local captured by value: the int8 stores may alias anything, and GCC
  // reloaded the buffers' and the arguments' pointers on every vector through references.
  const std::int32_t *const mpp = mp.data(), *const bpp = bp.data(), *const mnp = mn.data(),
                            *const bnp = bn.data(), *const t = a.t, *const s = a.s;
  const std::int8_t* const x0 = a.x;
  std::int8_t* const y0 = a.y;
  parallel_ranges(pool, a.rows, [=](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* x = x0 + r * C;
      std::int8_t* y = y0 + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        const typename V::I q = V::ld_i8(x + c);
        const typename V::I vp = V::mla(V::ld_i32(bpp + c), q, V::ld_i32(mpp + c));
        const typename V::I vn = V::mla(V::ld_i32(bnp + c), q, V::ld_i32(mnp + c));
        const typename V::I v = V::select_lt(q, V::ld_i32(t + c), vn, vp);
        V::st_sat_i8(y + c, V::srav(v, V::ld_i32(s + c)));
      }
      for (; c < C; ++c) {
        const std::int32_t q = x[c];
        const std::int32_t v = q >= t[c] ? wadd32(mpp[c] * q, bpp[c]) : wadd32(mnp[c] * q, bnp[c]);
        y[c] = sat8(v >> s[c]);
      }
    }
  });
}

template <class V>
void pwl_f32_impl(const PwlF32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  const std::size_t Cv = C - C % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * C;
      float* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        const typename V::F v = V::ldf(x + c);
        const typename V::F p = V::fma(V::ldf(a.bp + c), v, V::ldf(a.kp + c));
        const typename V::F n = V::fma(V::ldf(a.bn + c), v, V::ldf(a.kn + c));
        V::stf(y + c, V::select_gef(v, V::ldf(a.t + c), p, n));
      }
      for (; c < C; ++c) y[c] = x[c] >= a.t[c] ? a.kp[c] * x[c] + a.bp[c] : a.kn[c] * x[c] + a.bn[c];
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
