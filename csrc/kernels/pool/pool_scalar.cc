// Scalar twins of the pooling kernels (docs/numerics.md §5): per output pixel and channel,
// a loop over the taps inside the image.
#include <limits>

#include "kernels/pool/pool.h"

namespace bnnflow::glue::scalar {
namespace {

// Calls visit(y_pixel, taps) for every output pixel; taps(fn) calls fn(x_pixel) per tap inside.
template <class Tin, class Tout, class Visit>
void for_each_window(const PoolArgs<Tin, Tout>& a, ThreadPool* pool, const Visit& visit) {
  const std::size_t Ho = out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right);
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      const PoolWindow wh = pool_window(oh, a.H, a.k, a.stride, a.pad_top);
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const PoolWindow ww = pool_window(ow, a.W, a.k, a.stride, a.pad_left);
        Tout* y = a.y + (u * Wo + ow) * a.C;
        visit(y, [&](auto&& fn) {
          for (int kh = wh.t0; kh < wh.t1; ++kh) {
            for (int kw = ww.t0; kw < ww.t1; ++kw) {
              const std::size_t ih = static_cast<std::size_t>(wh.start + kh);
              const std::size_t iw = static_cast<std::size_t>(ww.start + kw);
              fn(a.x + ((n * a.H + ih) * a.W + iw) * a.C);
            }
          }
        });
      }
    }
  });
}

}  // namespace

void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool) {
  for_each_window(a, pool, [&](std::int8_t* y, const auto& taps) {
    for (std::size_t c = 0; c < a.C; ++c) y[c] = -128;
    taps([&](const std::int8_t* x) {
      for (std::size_t c = 0; c < a.C; ++c) y[c] = x[c] > y[c] ? x[c] : y[c];
    });
  });
}

void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool) {
  for_each_window(a, pool, [&](std::int32_t* y, const auto& taps) {
    for (std::size_t c = 0; c < a.C; ++c) y[c] = 0;
    taps([&](const std::int8_t* x) {
      for (std::size_t c = 0; c < a.C; ++c) y[c] += x[c];
    });
  });
}

void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool) {
  for_each_window(a, pool, [&](float* y, const auto& taps) {
    for (std::size_t c = 0; c < a.C; ++c) y[c] = -std::numeric_limits<float>::infinity();
    taps([&](const float* x) {
      for (std::size_t c = 0; c < a.C; ++c) y[c] = x[c] > y[c] ? x[c] : y[c];
    });
  });
}

void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool) {
  const float inv = 1.0f / static_cast<float>(a.k * a.k);
  for_each_window(a, pool, [&](float* y, const auto& taps) {
    for (std::size_t c = 0; c < a.C; ++c) y[c] = 0.0f;
    taps([&](const float* x) {
      for (std::size_t c = 0; c < a.C; ++c) y[c] += x[c];
    });
    for (std::size_t c = 0; c < a.C; ++c) y[c] *= inv;
  });
}

void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.N, [&](std::size_t n0, std::size_t n1) {
    for (std::size_t n = n0; n < n1; ++n) {
      std::int32_t* y = a.y + n * a.C;
      for (std::size_t c = 0; c < a.C; ++c) y[c] = 0;
      for (std::size_t p = 0; p < a.HW; ++p) {
        const std::int8_t* x = a.x + (n * a.HW + p) * a.C;
        for (std::size_t c = 0; c < a.C; ++c) y[c] += x[c];
      }
    }
  });
}

void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool) {
  const float inv = 1.0f / static_cast<float>(a.HW);
  parallel_ranges(pool, a.N, [&](std::size_t n0, std::size_t n1) {
    for (std::size_t n = n0; n < n1; ++n) {
      float* y = a.y + n * a.C;
      for (std::size_t c = 0; c < a.C; ++c) y[c] = 0.0f;
      for (std::size_t p = 0; p < a.HW; ++p) {
        const float* x = a.x + (n * a.HW + p) * a.C;
        for (std::size_t c = 0; c < a.C; ++c) y[c] += x[c];
      }
      for (std::size_t c = 0; c < a.C; ++c) y[c] *= inv;
    }
  });
}

// Per output pixel and channel the max of the int32 taps (the min where M[c] < 0: pool.h), then
// the requant32 formula of that one value (its prepared form where requant32 would use it).
void maxpool_requant32(const MaxPoolRequant32Args& a, ThreadPool* pool) {
  const Requant32Args& q = a.rq;
  const bool prepared = q.prep != nullptr && q.prep->mode != Rq32Mode::kInt64;
  for_each_window(a, pool, [&](std::int8_t* y, const auto& taps) {
    for (std::size_t c = 0; c < a.C; ++c) {
      bool first = true;
      std::int32_t e = 0;
      taps([&](const std::int32_t* x) {
        const std::int32_t v = x[c];
        if (first || (q.M[c] < 0 ? v < e : v > e)) e = v;
        first = false;
      });
      if (prepared) {
        y[c] = requant32_prepared_at(*q.prep, c, e);
      } else {
        std::int64_t v = wadd64(static_cast<std::int64_t>(q.M[c]) * e, q.B[c]);
        v = wadd64(v, round_term64(q.s[c])) >> q.s[c];
        y[c] = sat8(v);
      }
    }
  });
}

}  // namespace bnnflow::glue::scalar
