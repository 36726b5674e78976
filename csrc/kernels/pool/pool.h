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
#pragma once
#include "kernels/common/kernel_common.h"

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

#define BNNFLOW_GLUE_POOL_KERNELS                                             \
  void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool);              \
  void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool);              \
  void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool);                \
  void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool);                \
  void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool); \
  void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool);
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
