// Generic per-channel elementwise glue kernels, written once over a lane-traits type V
// (vec_avx2.h, vec_avx512.h, vec_neon.h). Included only by ISA kernel files; everything is
// TU-local. Channel tails that do not fill a vector use the scalar formula, so every lane and
// every tail element equals the scalar twin bit for bit on integers.
//
// Per-channel int parameters are folded once per call: m (int32), br = B + r with
// r = 2^(s-1) (s > 0), so the lanes compute (m*q + br) >> s.
#pragma once
#include "kernels/add/add.h"
#include "kernels/glue_common/glue.h"
#include "kernels/glue_f32/glue_f32.h"
#include "kernels/pwl/pwl.h"
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
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        const typename V::I q = V::ld_i8(x + c);
        const typename V::I vp = V::mla(V::ld_i32(bp.data() + c), q, V::ld_i32(mp.data() + c));
        const typename V::I vn = V::mla(V::ld_i32(bn.data() + c), q, V::ld_i32(mn.data() + c));
        const typename V::I v = V::select_lt(q, V::ld_i32(a.t + c), vn, vp);
        V::st_sat_i8(y + c, V::srav(v, V::ld_i32(a.s + c)));
      }
      for (; c < C; ++c) {
        const std::int32_t q = x[c];
        const std::int32_t v = q >= a.t[c] ? wadd32(mp[c] * q, bp[c]) : wadd32(mn[c] * q, bn[c]);
        y[c] = sat8(v >> a.s[c]);
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

template <class V>
void scale_bias_impl(const ScaleBiasArgs& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  const std::size_t Cv = C - C % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * C;
      float* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        V::stf(y + c, V::fma(V::ldf(a.b + c), V::ldf(x + c), V::ldf(a.a + c)));
      }
      for (; c < C; ++c) y[c] = x[c] * a.a[c] + a.b[c];
    }
  });
}

template <class V>
void dequant_impl(const DequantArgs& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  const std::size_t Cv = C - C % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = a.x + r * C;
      float* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) {
        const typename V::F v = V::cvtf(V::ld_i32(x + c));
        // Two roundings, as the scalar twin and the reference: f32(f32(f32(acc)·scale) + bias)
        // (docs/numerics.md §5); a fused multiply-add would round once and differ in the last
        // bit.
        V::stf(y + c, V::addf(V::mulf(v, V::ldf(a.scale + c)), V::ldf(a.bias + c)));
      }
      for (; c < C; ++c) y[c] = static_cast<float>(x[c]) * a.scale[c] + a.bias[c];
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
