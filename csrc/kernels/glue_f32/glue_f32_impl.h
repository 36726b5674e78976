// Generic float32 glue over lane traits V (kernels/common/vec_*.h): scale_bias and dequant
// (elementwise; channel tails in scalar code), conv2d and dense (FMA). conv2d_f32 is a direct NHWC
// convolution with output channels across lanes: the input is staged once with a zero border
// (conv_prep.h) so a kernel row's KW*Cin values are contiguous; each value is broadcast and
// fused-multiply-added into a register tile of kP pixels x kNV channel vectors.
#pragma once
#include "kernels/common/conv_prep.h"
#include "kernels/common/kernel_common.h"
#include "kernels/glue_f32/glue_f32.h"

namespace bnnflow::glue {
namespace {

template <class V, int P, int NV>
void conv_f32_tile(const Conv2dF32Args& a, const float* xp, const float* wk, const float* bias,
                   std::size_t Hp, std::size_t Wp, std::size_t L, std::size_t CoP, std::size_t n,
                   std::size_t oh, std::size_t ow, std::size_t co, float* y) {
  typename V::F acc[P][NV];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < NV; ++v) acc[p][v] = V::ldf(bias + co + v * V::kI32);
  }
  const std::size_t pix = static_cast<std::size_t>(a.stride) * a.Cin;
  for (int kh = 0; kh < a.KH; ++kh) {
    const float* xr = xp + ((n * Hp + oh * a.stride + kh) * Wp + ow * a.stride) * a.Cin;
    const float* wr = wk + static_cast<std::size_t>(kh) * L * CoP + co;
    for (std::size_t i = 0; i < L; ++i) {
      typename V::F w[NV];
      for (int v = 0; v < NV; ++v) w[v] = V::ldf(wr + i * CoP + v * V::kI32);
      for (int p = 0; p < P; ++p) {
        const typename V::F b = V::set1f(xr[p * pix + i]);
        for (int v = 0; v < NV; ++v) acc[p][v] = V::fma(acc[p][v], b, w[v]);
      }
    }
  }
  constexpr std::size_t kC = static_cast<std::size_t>(NV) * V::kI32;
  const std::size_t valid = a.Cout - co < kC ? a.Cout - co : kC;
  for (int p = 0; p < P; ++p) {
    float* yp = y + p * a.Cout + co;
    if (valid == kC) {
      for (int v = 0; v < NV; ++v) V::stf(yp + v * V::kI32, acc[p][v]);
    } else {
      float tmp[kC];
      for (int v = 0; v < NV; ++v) V::stf(tmp + v * V::kI32, acc[p][v]);
      std::memcpy(yp, tmp, valid * sizeof(float));
    }
  }
}

// Packed bytes: bias float [CoP], then weights float [KH][KW*Cin][CoP].
template <class V, int NV>
std::size_t conv2d_f32_packed_bytes_impl(const Conv2dF32Args& a) {
  constexpr std::size_t kC = static_cast<std::size_t>(NV) * V::kI32;
  const std::size_t CoP = (a.Cout + kC - 1) / kC * kC;
  return (CoP + static_cast<std::size_t>(a.KH) * a.KW * a.Cin * CoP) * sizeof(float);
}

template <class V, int NV>
void conv2d_f32_pack_impl(const Conv2dF32Args& a, void* packed) {
  constexpr std::size_t kC = static_cast<std::size_t>(NV) * V::kI32;
  const std::size_t CoP = (a.Cout + kC - 1) / kC * kC;
  auto* bias = static_cast<float*>(packed);
  for (std::size_t o = 0; o < a.Cout; ++o) bias[o] = a.bias[o];
  pack_weights<1>(bias + CoP, a.w, a.Cout, a.KH, static_cast<std::size_t>(a.KW) * a.Cin, CoP);
}

template <class V, int P, int NV>
void conv2d_f32_packed_impl(const Conv2dF32Args& a, const void* packed, ThreadPool* pool) {
  constexpr std::size_t kC = static_cast<std::size_t>(NV) * V::kI32;
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right);
  const std::size_t Hp = a.H + a.pad_top + a.pad_bottom, Wp = a.W + a.pad_left + a.pad_right;
  const std::size_t L = static_cast<std::size_t>(a.KW) * a.Cin;
  const std::size_t CoP = (a.Cout + kC - 1) / kC * kC;
  GlueBuffer<float> xp(a.N * Hp * Wp * a.Cin);
  const std::int32_t* no_zp = nullptr;
  stage_interior(xp.data(), a.x, no_zp, a.N, a.H, a.W, a.Cin, a.pad_top, a.pad_left, Hp, Wp,
                 pool);
  const float* bias = static_cast<const float*>(packed);
  const float* wk = bias + CoP;
  // Units: (channel block, output row), block major (weights stay in cache).
  const std::size_t rows = a.N * Ho, blocks = CoP / kC;
  parallel_ranges(pool, blocks * rows, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t co = (u / rows) * kC, row = u % rows;
      const std::size_t n = row / Ho, oh = row % Ho;
      float* yrow = a.y + row * Wo * a.Cout;
      std::size_t ow = 0;
      for (; ow + P <= Wo; ow += P) {
        conv_f32_tile<V, P, NV>(a, xp.data(), wk, bias, Hp, Wp, L, CoP, n, oh, ow, co,
                                yrow + ow * a.Cout);
      }
      for (; ow < Wo; ++ow) {
        conv_f32_tile<V, 1, NV>(a, xp.data(), wk, bias, Hp, Wp, L, CoP, n, oh, ow, co,
                                yrow + ow * a.Cout);
      }
    }
  });
}

template <class V, int P, int NV>
void conv2d_f32_impl(const Conv2dF32Args& a, ThreadPool* pool) {
  GlueBuffer<std::uint8_t> packed(conv2d_f32_packed_bytes_impl<V, NV>(a));
  conv2d_f32_pack_impl<V, NV>(a, packed.data());
  conv2d_f32_packed_impl<V, P, NV>(a, packed.data(), pool);
}

template <class V, int R>
void dense_f32_rows(const DenseF32Args& a, std::size_t n, std::size_t o) {
  const float* x = a.x + n * a.Cin;
  typename V::F acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V::zerof();
  std::size_t c = 0;
  for (; c + V::kI32 <= a.Cin; c += V::kI32) {
    const typename V::F xv = V::ldf(x + c);
    for (int r = 0; r < R; ++r) acc[r] = V::fma(acc[r], xv, V::ldf(a.w + (o + r) * a.Cin + c));
  }
  for (int r = 0; r < R; ++r) {
    float s = V::hsumf(acc[r]);
    for (std::size_t k = c; k < a.Cin; ++k) s += a.w[(o + r) * a.Cin + k] * x[k];
    a.y[n * a.Cout + o + r] = s + a.bias[o + r];
  }
}

template <class V>
void dense_f32_impl(const DenseF32Args& a, ThreadPool* pool) {
  constexpr std::size_t kBlock = 16;
  const std::size_t nb = (a.Cout + kBlock - 1) / kBlock;
  parallel_ranges(pool, a.N * nb, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / nb, o0 = (u % nb) * kBlock;
      const std::size_t o1 = o0 + kBlock < a.Cout ? o0 + kBlock : a.Cout;
      std::size_t o = o0;
      for (; o + 4 <= o1; o += 4) dense_f32_rows<V, 4>(a, n, o);
      for (; o < o1; ++o) dense_f32_rows<V, 1>(a, n, o);
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

}  // namespace
}  // namespace bnnflow::glue

// Defines the float32 glue kernels of glue_f32.h in the enclosing ISA namespace from lane
// traits V, with a conv2d_f32 register tile of P pixels x NV vectors.
#define BNNFLOW_DEFINE_GLUE_F32_KERNELS(V, P, NV)                                              \
  void scale_bias(const ScaleBiasArgs& a, ThreadPool* pool) { scale_bias_impl<V>(a, pool); } \
  void dequant(const DequantArgs& a, ThreadPool* pool) { dequant_impl<V>(a, pool); }         \
  void conv2d_f32(const Conv2dF32Args& a, ThreadPool* pool) {                                \
    conv2d_f32_impl<V, P, NV>(a, pool);                                                      \
  }                                                                                          \
  std::size_t conv2d_f32_packed_bytes(const Conv2dF32Args& a) {                              \
    return conv2d_f32_packed_bytes_impl<V, NV>(a);                                           \
  }                                                                                          \
  void conv2d_f32_pack(const Conv2dF32Args& a, void* packed) {                               \
    conv2d_f32_pack_impl<V, NV>(a, packed);                                                  \
  }                                                                                          \
  void conv2d_f32_packed(const Conv2dF32Args& a, const void* packed, ThreadPool* pool) {     \
    conv2d_f32_packed_impl<V, P, NV>(a, packed, pool);                                       \
  }                                                                                          \
  void dense_f32(const DenseF32Args& a, ThreadPool* pool) { dense_f32_impl<V>(a, pool); }
