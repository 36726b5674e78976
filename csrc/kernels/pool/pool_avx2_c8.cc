// avx2 pooling kernels, from the generic kernels of pool_impl.h (channels across lanes), and
// sumpool_int8 over non-overlapping windows in 16-bit lanes, maxpool_int8 with whole 32-byte
// channel blocks separably with its window unrolled.
#include <immintrin.h>

#include "kernels/common/vec_avx2.h"
#include "kernels/pool/pool_impl.h"

namespace bnnflow::glue::avx2 {
namespace {

// sumpool_int8 where the windows tile the input (k = stride <= 15, no padding) and C % 16 == 0
// (Bi-Real-Net's 2x2/2 downsample shortcuts): per 16 channels the k*k taps are sign-extended
// to int16 (vpmovsxbw) and added there (|sum| <= 225 * 128 < 2^15: exact), then widened once
// to the two int32 vectors of the output. The generic kernel walks each window through
// pool_window and adds in int32 lanes, 8 channels at a time.
bool sumpool_tiled(const SumPoolInt8Args& a) {
  return a.k == a.stride && a.k >= 1 && a.k <= 15 && a.pad_top == 0 && a.pad_left == 0 &&
         a.pad_bottom == 0 && a.pad_right == 0 && a.C % 16 == 0;
}

void sumpool_int8_tiled(const SumPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t k = static_cast<std::size_t>(a.k), C = a.C, WC = a.W * C;
  const std::size_t Ho = a.H / k, Wo = a.W / k;
  parallel_ranges(pool, a.N * Ho, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      const std::int8_t* x0 = a.x + (n * a.H + oh * k) * WC;
      std::int32_t* y = a.y + u * Wo * C;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const std::int8_t* xw = x0 + ow * k * C;
        for (std::size_t c = 0; c < C; c += 16) {
          __m256i s = _mm256_setzero_si256();
          for (std::size_t kh = 0; kh < k; ++kh) {
            for (std::size_t kw = 0; kw < k; ++kw) {
              const auto* p = reinterpret_cast<const __m128i*>(xw + kh * WC + kw * C + c);
              s = _mm256_add_epi16(s, _mm256_cvtepi8_epi16(_mm_loadu_si128(p)));
            }
          }
          std::int32_t* yo = y + ow * C + c;
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(yo),
                              _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s)));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(yo + 8),
                              _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s, 1)));
        }
      }
    }
  });
}

// The max of n vectors p, p + step, ...; n = K unrolled (K > 0), else a counted loop. Windows
// always hold a tap inside the image (padding < k), and max(-128, v) = v, so this equals the
// generic kernels' max from -128.
template <int K>
inline __m256i max_taps(const std::int8_t* p, std::size_t step, int n) {
  const auto ld = [](const std::int8_t* q) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  };
  if (K > 0 && n == K) {
    __m256i m = ld(p);
    for (int t = 1; t < K; ++t) m = _mm256_max_epi8(m, ld(p + static_cast<std::size_t>(t) * step));
    return m;
  }
  __m256i m = _mm256_set1_epi8(-128);
  for (int t = 0; t < n; ++t) m = _mm256_max_epi8(m, ld(p + static_cast<std::size_t>(t) * step));
  return m;
}

// maxpool_int8 separably as pool_impl.h's maxpool_int8_separable (the max over the window's
// rows of every input column into a row, then over the window's columns), with every bound in
// locals (the int8 stores made GCC reload W*C and C through the arguments on every vector),
// the window's taps unrolled for k = K (the stem's 3x3: K = 3) and the column row on the stack
// up to kStackRow bytes instead of a heap buffer per call (the band chains call once per band).
constexpr std::size_t kStackRow = 16384;

template <int K>
void maxpool_int8_rows(const MaxPoolInt8Args& a, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right);
  const std::size_t C = a.C, W = a.W, H = a.H, WC = a.W * a.C;
  const int k = a.k, stride = a.stride, pt = a.pad_top, pl = a.pad_left;
  const std::int8_t* const x = a.x;
  std::int8_t* const y = a.y;
  parallel_ranges(pool, a.N * Ho, [=](std::size_t u0, std::size_t u1) {
    alignas(32) std::int8_t stack[kStackRow];
    GlueBuffer<std::int8_t> heap;
    if (WC > kStackRow) heap.allocate(WC);
    std::int8_t* const cm = WC > kStackRow ? heap.data() : stack;
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / Ho, oh = u % Ho;
      const PoolWindow wh = pool_window(oh, H, k, stride, pt);
      const std::int8_t* x0 = x + (n * H + static_cast<std::size_t>(wh.start + wh.t0)) * WC;
      const int rows = wh.t1 - wh.t0;
      for (std::size_t i = 0; i < WC; i += 32) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(cm + i), max_taps<K>(x0 + i, WC, rows));
      }
      std::int8_t* yrow = y + u * Wo * C;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const PoolWindow ww = pool_window(ow, W, k, stride, pl);
        const std::int8_t* c0 = cm + static_cast<std::size_t>(ww.start + ww.t0) * C;
        const int cols = ww.t1 - ww.t0;
        for (std::size_t c = 0; c < C; c += 32) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(yrow + ow * C + c), max_taps<K>(c0 + c, C, cols));
        }
      }
    }
  });
}

}  // namespace

void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool) {
  // The generic kernel for channel tails and k = 1, and for 2x2 stride 1 unpadded (QuickNet's
  // transitions): pool_impl.h's flat maxpool_int8_2x2s1, 4 loads and 3 max per 32 output bytes.
  if (a.C % 32 != 0 || a.k <= 1 || (a.k == 2 && a.stride == 1)) return maxpool_int8_impl<Vec>(a, pool);
  if (a.k == 3) return maxpool_int8_rows<3>(a, pool);
  if (a.k == 2) return maxpool_int8_rows<2>(a, pool);
  maxpool_int8_rows<0>(a, pool);
}
void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool) {
  if (sumpool_tiled(a)) return sumpool_int8_tiled(a, pool);
  sumpool_int8_impl<Vec>(a, pool);
}
void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool) { maxpool_f32_impl<Vec>(a, pool); }
void maxpool_requant32(const MaxPoolRequant32Args& a, ThreadPool* pool) {
  maxpool_requant32_impl<Vec>(a, pool, &requant32);
}
void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool) { avgpool_f32_impl<Vec>(a, pool); }
void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool) {
  global_sumpool_int8_impl<Vec>(a, pool);
}
void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool) {
  global_avgpool_f32_impl<Vec>(a, pool);
}

}  // namespace bnnflow::glue::avx2
