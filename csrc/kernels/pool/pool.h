// Pooling on NHWC tensors (docs/numerics.md §5). Square window k, stride, padding per side
// (each < k; see out_size in kernel_common.h); padded taps are ignored, except that
// avgpool_f32 divides by k*k whatever the padding (count_include_pad; not TF's SAME average
// pool):
//   maxpool_int8        : int8  -> int8   max over the taps inside the image
//   sumpool_int8        : int8  -> int32  sum over the taps inside the image
//   maxpool_f32         : f32   -> f32    max over the taps inside the image
//   avgpool_f32         : f32   -> f32    (sum over the taps inside) * (1 / k^2)
//   global_sumpool_int8 : int8 [N,H,W,C] -> int32 [N,C]  sum over H*W
//   global_avgpool_f32  : f32  [N,H,W,C] -> f32   [N,C]  (sum over H*W) * (1 / (H*W))
//   maxpool_requant32   : int32 -> int8   maxpool_int8(requant32(x)), computed as
//                         requant32(ext(x)) with ext the max over the taps inside the image
//                         for channels with M[c] >= 0 and the min for M[c] < 0 (below)
#pragma once
#include "kernels/common/kernel_common.h"
#include "kernels/requant/requant.h"

namespace bnnflow::glue {

template <class Tin, class Tout>
struct PoolArgs {
  const Tin* x;  // [N, H, W, C]
  Tout* y;       // [N, Ho, Wo, C]
  std::size_t N, H, W, C;
  int k, stride;
  int pad_top, pad_left, pad_bottom, pad_right;  // per side (docs/format.md, Padding)
};

template <class Tin, class Tout>
struct GlobalPoolArgs {
  const Tin* x;  // [N, HW, C]
  Tout* y;       // [N, C]
  std::size_t N, HW, C;
};

using MaxPoolInt8Args = PoolArgs<std::int8_t, std::int8_t>;
using SumPoolInt8Args = PoolArgs<std::int8_t, std::int32_t>;
using MaxPoolF32Args = PoolArgs<float, float>;
using AvgPoolF32Args = PoolArgs<float, float>;
using GlobalSumPoolInt8Args = GlobalPoolArgs<std::int8_t, std::int32_t>;
using GlobalAvgPoolF32Args = GlobalPoolArgs<float, float>;

// maxpool_requant32: a max pool of a requant32's int8 output, from the requant32's int32 input.
// rq holds the requant32's per-channel M, B, s and optional prepared form (channels = C; its
// x, y and rows are set per output row by the kernel).
//
// Why it is exact. requant32 is y = f_c(x) = sat8(floor((M·x + B + r) / 2^s)) (docs/numerics.md
// §3; r = 2^(s-1) for s > 0, else 0) evaluated in int64. A valid file has no overflow in
// M·x + B + r for any int32 x (graph.validate / the loader check it), so for a fixed channel
// g(x) = M·x + B + r is the exact affine integer function, non-decreasing in x for M >= 0 and
// non-increasing for M < 0. floor(v / 2^s) (the arithmetic shift) is non-decreasing in v, and
// sat8(v) = clamp(v, -128, 127) is non-decreasing in v, so f_c is non-decreasing for M >= 0 and
// non-increasing for M < 0 (constant for M = 0). For a non-decreasing f and any finite set T
// of taps, max over T of f(x_t) = f(max over T of x_t): f(max x) >= f(x_t) for every t, and
// f(max x) is itself one of the f(x_t). For a non-increasing f, max f(x_t) = f(min x_t) in the
// same way. The prepared forms (requant32_plan.h) equal the formula for every int32 x, so the
// identity holds for them as well, and the max pool ignores padded taps in both orders. So
// requant32 runs on one pooled value per output pixel: 1/4 of the pixels for a 3x3/2 pool.
struct MaxPoolRequant32Args : PoolArgs<std::int32_t, std::int8_t> {
  Requant32Args rq;
};

#define BNNFLOW_GLUE_POOL_KERNELS                                             \
  void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool);              \
  void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool);              \
  void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool);                \
  void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool);                \
  void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool); \
  void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool);   \
  void maxpool_requant32(const MaxPoolRequant32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_POOL_KERNELS)

// The window of output index o along an axis of length n: taps [t0, t1) are inside.
struct PoolWindow {
  int t0, t1;
  std::ptrdiff_t start;  // input index of tap 0
};
static inline PoolWindow pool_window(std::size_t o, std::size_t n, int k, int stride, int pad) {
  const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(o) * stride - pad;
  const std::ptrdiff_t len = static_cast<std::ptrdiff_t>(n);
  PoolWindow w;
  w.start = start;
  w.t0 = start < 0 ? static_cast<int>(-start) : 0;
  w.t1 = start + k > len ? static_cast<int>(len - start) : k;
  return w;
}

}  // namespace bnnflow::glue
