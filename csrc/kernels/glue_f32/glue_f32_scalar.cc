// Scalar twins of the float32 glue (docs/numerics.md §5), plain loops in float32.
#include "kernels/glue_f32/glue_f32.h"

namespace bnnflow::glue::scalar {

void scale_bias(const ScaleBiasArgs& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0 * C; i < r1 * C; ++i) a.y[i] = a.x[i] * a.a[i % C] + a.b[i % C];
  });
}

void dequant(const DequantArgs& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0 * C; i < r1 * C; ++i) {
      a.y[i] = static_cast<float>(a.x[i]) * a.scale[i % C] + a.bias[i % C];
    }
  });
}

void conv2d_f32(const Conv2dF32Args& a, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right);
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        for (std::size_t o = 0; o < a.Cout; ++o) {
          float acc = a.bias[o];
          for (int kh = 0; kh < a.KH; ++kh) {
            const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * a.stride) + kh - a.pad_top;
            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(a.H)) continue;
            for (int kw = 0; kw < a.KW; ++kw) {
              const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * a.stride) + kw - a.pad_left;
              if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(a.W)) continue;
              const float* x = a.x + ((n * a.H + ih) * a.W + iw) * a.Cin;
              const float* w = a.w + ((o * a.KH + kh) * a.KW + kw) * a.Cin;
              for (std::size_t c = 0; c < a.Cin; ++c) acc += w[c] * x[c];
            }
          }
          a.y[(u * Wo + ow) * a.Cout + o] = acc;
        }
      }
    }
  });
}

void dense_f32(const DenseF32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.N * a.Cout, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / a.Cout, o = u % a.Cout;
      float acc = a.bias[o];
      for (std::size_t c = 0; c < a.Cin; ++c) acc += a.w[o * a.Cin + c] * a.x[n * a.Cin + c];
      a.y[u] = acc;
    }
  });
}

// The scalar twin reads w and bias as they are: nothing to pack.
std::size_t conv2d_f32_packed_bytes(const Conv2dF32Args&) { return 0; }
void conv2d_f32_pack(const Conv2dF32Args&, void*) {}
void conv2d_f32_packed(const Conv2dF32Args& a, const void*, ThreadPool* pool) { conv2d_f32(a, pool); }

}  // namespace bnnflow::glue::scalar
