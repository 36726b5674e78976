// Generic pooling kernels over lane traits V (kernels/common/vec_*.h). Channels go across lanes;
// taps are visited in the scalar twin's order (kh, then kw), so integer and float results
// equal the scalar kernels exactly. Channel tails use scalar code.
#pragma once
#include <limits>

#include "kernels/common/kernel_common.h"
#include "kernels/pool/pool.h"

namespace bnnflow::glue {
namespace {

// op(y, taps) per output pixel; taps(fn) calls fn(x_pixel) for every tap inside the image.
template <class Tin, class Tout, class Op>
void pool_windows(const PoolArgs<Tin, Tout>& a, ThreadPool* pool, const Op& op) {
  const std::size_t Ho = out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right);
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      const PoolWindow wh = pool_window(oh, a.H, a.k, a.stride, a.pad_top);
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const PoolWindow ww = pool_window(ow, a.W, a.k, a.stride, a.pad_left);
        auto taps = [&](auto&& fn) {
          for (int kh = wh.t0; kh < wh.t1; ++kh) {
            const std::size_t row = (n * a.H + static_cast<std::size_t>(wh.start + kh)) * a.W;
            for (int kw = ww.t0; kw < ww.t1; ++kw) {
              fn(a.x + (row + static_cast<std::size_t>(ww.start + kw)) * a.C);
            }
          }
        };
        op(a.y + (u * Wo + ow) * a.C, taps);
      }
    }
  });
}

// maxpool_int8 with C a multiple of the lanes, separably: per output row, the max over the
// window's input rows of every input column (one vector pass over the W*C bytes into a
// per-thread row), then per output pixel the max over the window's columns of that row. Max is
// exact in any order, so this equals the scalar twin; about 6 vector ops per 64 input and 64
// output bytes instead of 2k^2 (plus the tap walk) per output vector. Output rows u0..u1 of
// the N*Ho; the arguments by value (the int8 stores may alias anything: GCC reloaded W*C and C
// on every vector through the arguments or the task's closure), the column row on the stack up
// to kMaxpoolStackRow bytes instead of a heap buffer per task (AVX2's maxpool_int8_rows too).
constexpr std::size_t kMaxpoolStackRow = 16384;

template <class V>
void maxpool_int8_separable_rows(const std::int8_t* x, std::int8_t* y, std::size_t H,
                                 std::size_t W, std::size_t C, std::size_t Ho, std::size_t Wo,
                                 int k, int stride, int pt, int pl, std::size_t u0,
                                 std::size_t u1) {
  const std::size_t WC = W * C;
  alignas(64) std::int8_t stack[kMaxpoolStackRow];
  GlueBuffer<std::int8_t> heap;
  if (WC > kMaxpoolStackRow) heap.allocate(WC);
  std::int8_t* const cm = WC > kMaxpoolStackRow ? heap.data() : stack;
  for (std::size_t u = u0; u < u1; ++u) {
    const std::size_t n = u / Ho, oh = u % Ho;
    const PoolWindow wh = pool_window(oh, H, k, stride, pt);
    const std::int8_t* x0 = x + (n * H + static_cast<std::size_t>(wh.start + wh.t0)) * WC;
    const int rows = wh.t1 - wh.t0;
    for (std::size_t i = 0; i < WC; i += V::kI8) {
      typename V::B acc = V::setb(-128);
      for (int r = 0; r < rows; ++r) acc = V::maxb(acc, V::ldb(x0 + static_cast<std::size_t>(r) * WC + i));
      V::stb(cm + i, acc);
    }
    std::int8_t* yrow = y + u * Wo * C;
    for (std::size_t ow = 0; ow < Wo; ++ow) {
      const PoolWindow ww = pool_window(ow, W, k, stride, pl);
      const std::int8_t* c0 = cm + static_cast<std::size_t>(ww.start + ww.t0) * C;
      const int cols = ww.t1 - ww.t0;
      for (std::size_t c = 0; c < C; c += V::kI8) {
        typename V::B acc = V::setb(-128);
        for (int t = 0; t < cols; ++t) acc = V::maxb(acc, V::ldb(c0 + static_cast<std::size_t>(t) * C + c));
        V::stb(yrow + ow * C + c, acc);
      }
    }
  }
}

template <class V>
void maxpool_int8_separable(const MaxPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right);
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    maxpool_int8_separable_rows<V>(a.x, a.y, a.H, a.W, a.C, Ho, Wo, a.k, a.stride, a.pad_top,
                                   a.pad_left, u0, u1);
  });
}

// maxpool_int8 2x2 stride 1 without padding (QuickNet's transitions), C a multiple of the
// vector: output pixel (oh, ow) is the max of input pixels ow and ow + 1 of rows oh and oh + 1,
// so output row oh is, one vector at a time over its Wo*C bytes, y[i] = max(r0[i], r1[i],
// r0[i + C], r1[i + C]): 4 loads and 3 max per vector, no per-pixel window and no column row.
template <class V>
void maxpool_int8_2x2s1(const MaxPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t H = a.H, Ho = a.H - 1, C = a.C, WC = a.W * a.C, n_out = (a.W - 1) * a.C;
  const std::int8_t* const x = a.x;
  std::int8_t* const y = a.y;
  parallel_ranges(pool, a.N * Ho, [=](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::int8_t* r0 = x + ((u / Ho) * H + u % Ho) * WC;
      const std::int8_t* r1 = r0 + WC;
      std::int8_t* yr = y + u * n_out;
      for (std::size_t i = 0; i < n_out; i += V::kI8) {
        const typename V::B top = V::maxb(V::ldb(r0 + i), V::ldb(r0 + i + C));
        const typename V::B bottom = V::maxb(V::ldb(r1 + i), V::ldb(r1 + i + C));
        V::stb(yr + i, V::maxb(top, bottom));
      }
    }
  });
}

template <class V>
void maxpool_int8_impl(const MaxPoolInt8Args& a, ThreadPool* pool) {
  if (a.C % V::kI8 == 0 && a.k == 2 && a.stride == 1 && a.pad_top == 0 && a.pad_left == 0 &&
      a.pad_bottom == 0 && a.pad_right == 0 && a.H >= 2 && a.W >= 2) {
    return maxpool_int8_2x2s1<V>(a, pool);
  }
  if (a.C % V::kI8 == 0 && a.k > 1) return maxpool_int8_separable<V>(a, pool);
  const std::size_t C = a.C, Cv = C - C % V::kI8;
  pool_windows(a, pool, [&](std::int8_t* y, const auto& taps) {
    for (std::size_t c = 0; c < Cv; c += V::kI8) {
      typename V::B acc = V::setb(-128);
      taps([&](const std::int8_t* x) { acc = V::maxb(acc, V::ldb(x + c)); });
      V::stb(y + c, acc);
    }
    for (std::size_t c = Cv; c < C; ++c) y[c] = -128;
    taps([&](const std::int8_t* x) {
      for (std::size_t c = Cv; c < C; ++c) y[c] = x[c] > y[c] ? x[c] : y[c];
    });
  });
}

// sumpool_int8 2x2 stride 2 without padding (the downsample shortcuts), C a multiple of the
// int32 lanes: every window lies inside the image, so its 4 taps are fixed offsets and no
// window is computed per pixel. Integer sums: any order equals the scalar twin.
template <class V>
void sumpool_int8_2x2(const SumPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, 2, 2, 0, 0), Wo = out_size(a.W, 2, 2, 0, 0);
  const std::size_t C = a.C, WC = a.W * a.C;
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      const std::int8_t* r0 = a.x + (n * a.H + 2 * oh) * WC;
      const std::int8_t* r1 = r0 + WC;
      std::int32_t* y = a.y + u * Wo * C;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const std::int8_t* p = r0 + 2 * ow * C;
        const std::int8_t* q = r1 + 2 * ow * C;
        for (std::size_t c = 0; c < C; c += V::kI32) {
          const typename V::I top = V::add(V::ld_i8(p + c), V::ld_i8(p + C + c));
          const typename V::I bottom = V::add(V::ld_i8(q + c), V::ld_i8(q + C + c));
          V::st_i32(y + ow * C + c, V::add(top, bottom));
        }
      }
    }
  });
}

template <class V>
void sumpool_int8_impl(const SumPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.C, Cv = C - C % V::kI32;
  if (Cv == C && a.k == 2 && a.stride == 2 && a.pad_top == 0 && a.pad_left == 0 &&
      a.pad_bottom == 0 && a.pad_right == 0) {
    return sumpool_int8_2x2<V>(a, pool);
  }
  pool_windows(a, pool, [&](std::int32_t* y, const auto& taps) {
    for (std::size_t c = 0; c < Cv; c += V::kI32) {
      typename V::I acc = V::zero();
      taps([&](const std::int8_t* x) { acc = V::add(acc, V::ld_i8(x + c)); });
      V::st_i32(y + c, acc);
    }
    for (std::size_t c = Cv; c < C; ++c) y[c] = 0;
    taps([&](const std::int8_t* x) {
      for (std::size_t c = Cv; c < C; ++c) y[c] += x[c];
    });
  });
}

template <class V>
void maxpool_f32_impl(const MaxPoolF32Args& a, ThreadPool* pool) {
  const std::size_t C = a.C, Cv = C - C % V::kI32;
  const float lowest = -std::numeric_limits<float>::infinity();
  pool_windows(a, pool, [&](float* y, const auto& taps) {
    for (std::size_t c = 0; c < Cv; c += V::kI32) {
      typename V::F acc = V::set1f(lowest);
      taps([&](const float* x) { acc = V::maxf(acc, V::ldf(x + c)); });
      V::stf(y + c, acc);
    }
    for (std::size_t c = Cv; c < C; ++c) y[c] = lowest;
    taps([&](const float* x) {
      for (std::size_t c = Cv; c < C; ++c) y[c] = x[c] > y[c] ? x[c] : y[c];
    });
  });
}

template <class V>
void avgpool_f32_impl(const AvgPoolF32Args& a, ThreadPool* pool) {
  const std::size_t C = a.C, Cv = C - C % V::kI32;
  const float inv = 1.0f / static_cast<float>(a.k * a.k);
  pool_windows(a, pool, [&](float* y, const auto& taps) {
    for (std::size_t c = 0; c < Cv; c += V::kI32) {
      typename V::F acc = V::zerof();
      taps([&](const float* x) { acc = V::addf(acc, V::ldf(x + c)); });
      V::stf(y + c, V::mulf(acc, V::set1f(inv)));
    }
    for (std::size_t c = Cv; c < C; ++c) y[c] = 0.0f;
    taps([&](const float* x) {
      for (std::size_t c = Cv; c < C; ++c) y[c] += x[c];
    });
    for (std::size_t c = Cv; c < C; ++c) y[c] *= inv;
  });
}

// Global pools: units are (image, block of kBlock channels).
constexpr std::size_t kGlobalBlock = 64;

template <class V>
void global_sumpool_int8_impl(const GlobalSumPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t nb = (a.C + kGlobalBlock - 1) / kGlobalBlock;
  parallel_ranges(pool, a.N * nb, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / nb, c0 = (u % nb) * kGlobalBlock;
      const std::size_t c1 = c0 + kGlobalBlock < a.C ? c0 + kGlobalBlock : a.C;
      std::int32_t* y = a.y + n * a.C;
      std::size_t c = c0;
      for (; c + V::kI32 <= c1; c += V::kI32) {
        typename V::I acc = V::zero();
        for (std::size_t p = 0; p < a.HW; ++p) {
          acc = V::add(acc, V::ld_i8(a.x + (n * a.HW + p) * a.C + c));
        }
        V::st_i32(y + c, acc);
      }
      for (; c < c1; ++c) {
        std::int32_t acc = 0;
        for (std::size_t p = 0; p < a.HW; ++p) acc += a.x[(n * a.HW + p) * a.C + c];
        y[c] = acc;
      }
    }
  });
}

template <class V>
void global_avgpool_f32_impl(const GlobalAvgPoolF32Args& a, ThreadPool* pool) {
  const std::size_t nb = (a.C + kGlobalBlock - 1) / kGlobalBlock;
  const float inv = 1.0f / static_cast<float>(a.HW);
  parallel_ranges(pool, a.N * nb, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / nb, c0 = (u % nb) * kGlobalBlock;
      const std::size_t c1 = c0 + kGlobalBlock < a.C ? c0 + kGlobalBlock : a.C;
      float* y = a.y + n * a.C;
      std::size_t c = c0;
      for (; c + V::kI32 <= c1; c += V::kI32) {
        typename V::F acc = V::zerof();
        for (std::size_t p = 0; p < a.HW; ++p) {
          acc = V::addf(acc, V::ldf(a.x + (n * a.HW + p) * a.C + c));
        }
        V::stf(y + c, V::mulf(acc, V::set1f(inv)));
      }
      for (; c < c1; ++c) {
        float acc = 0.0f;
        for (std::size_t p = 0; p < a.HW; ++p) acc += a.x[(n * a.HW + p) * a.C + c];
        y[c] = acc * inv;
      }
    }
  });
}

// maxpool_requant32 (pool.h: max pool after requant32 as requant32 after a max / min pool),
// C a multiple of the int32 lanes or not (scalar channel tails). Per output row: the window's
// rows reduced per input column into a per-thread int32 row (max and min of each vector, the min
// kept where M < 0), then per output pixel the same over the window's columns into a second
// row, then the ISA's requant32 `rq32` on that row of Wo pixels (its prepared form if any).
template <class V>
void maxpool_requant32_rows(const MaxPoolRequant32Args& a, Requant32Fn rq32, std::size_t Ho,
                            std::size_t Wo, std::size_t u0, std::size_t u1) {
  const std::size_t C = a.C, W = a.W, H = a.H, WC = W * C, Cv = C - C % V::kI32;
  const std::int32_t* const M = a.rq.M;
  const std::int32_t* const x = a.x;
  ThreadScratch<1> rows;  // this file's own thread_local set: no other user in a pool kernel
  auto* const cm = reinterpret_cast<std::int32_t*>(rows.scratch(0, (WC + Wo * C) * sizeof(std::int32_t)));
  std::int32_t* const po = cm + WC;
  const typename V::I zero = V::zero();
  // ext: the max for M >= 0, the min for M < 0 (select_lt(M, 0, min, max)).
  const auto ext = [&](std::size_t c, const std::int32_t* p, std::size_t n, std::size_t step) {
    typename V::I mx = V::ld_i32(p), mn = mx;
    for (std::size_t t = 1; t < n; ++t) {
      const typename V::I v = V::ld_i32(p + t * step);
      mx = V::max(mx, v);
      mn = V::min(mn, v);
    }
    return V::select_lt(V::ld_i32(M + c), zero, mn, mx);
  };
  const auto ext1 = [&](std::size_t c, const std::int32_t* p, std::size_t n, std::size_t step) {
    std::int32_t v = p[0];
    for (std::size_t t = 1; t < n; ++t) {
      const std::int32_t u = p[t * step];
      v = M[c] < 0 ? (u < v ? u : v) : (u > v ? u : v);
    }
    return v;
  };
  for (std::size_t u = u0; u < u1; ++u) {
    const std::size_t n = u / Ho, oh = u % Ho;
    const PoolWindow wh = pool_window(oh, H, a.k, a.stride, a.pad_top);
    const std::int32_t* x0 = x + (n * H + static_cast<std::size_t>(wh.start + wh.t0)) * WC;
    const auto nr = static_cast<std::size_t>(wh.t1 - wh.t0);
    for (std::size_t w = 0; w < W; ++w) {
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) V::st_i32(cm + w * C + c, ext(c, x0 + w * C + c, nr, WC));
      for (; c < C; ++c) cm[w * C + c] = ext1(c, x0 + w * C + c, nr, WC);
    }
    for (std::size_t ow = 0; ow < Wo; ++ow) {
      const PoolWindow ww = pool_window(ow, W, a.k, a.stride, a.pad_left);
      const std::int32_t* c0 = cm + static_cast<std::size_t>(ww.start + ww.t0) * C;
      const auto nc = static_cast<std::size_t>(ww.t1 - ww.t0);
      std::size_t c = 0;
      for (; c < Cv; c += V::kI32) V::st_i32(po + ow * C + c, ext(c, c0 + c, nc, C));
      for (; c < C; ++c) po[ow * C + c] = ext1(c, c0 + c, nc, C);
    }
    Requant32Args r = a.rq;
    r.x = po;
    r.y = a.y + u * Wo * C;
    r.rows = Wo;
    r.channels = C;
    rq32(r, nullptr);
  }
}

template <class V>
void maxpool_requant32_impl(const MaxPoolRequant32Args& a, ThreadPool* pool, Requant32Fn rq32) {
  const std::size_t Ho = out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right);
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    maxpool_requant32_rows<V>(a, rq32, Ho, Wo, u0, u1);
  });
}

}  // namespace
}  // namespace bnnflow::glue

// Defines the pooling kernels of pool.h in the enclosing ISA namespace from lane traits V.
#define BNNFLOW_DEFINE_POOL_KERNELS(V)                                                            \
  void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool) { maxpool_int8_impl<V>(a, pool); } \
  void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool) { sumpool_int8_impl<V>(a, pool); } \
  void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool) { maxpool_f32_impl<V>(a, pool); }    \
  void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool) { avgpool_f32_impl<V>(a, pool); }    \
  void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool) {                    \
    global_sumpool_int8_impl<V>(a, pool);                                                         \
  }                                                                                               \
  void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool) {                      \
    global_avgpool_f32_impl<V>(a, pool);                                                          \
  }                                                                                               \
  void maxpool_requant32(const MaxPoolRequant32Args& a, ThreadPool* pool) {                       \
    maxpool_requant32_impl<V>(a, pool, &requant32);                                               \
  }
