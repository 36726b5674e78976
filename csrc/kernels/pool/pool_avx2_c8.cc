// avx2 pooling kernels, from the generic kernels of pool_impl.h (channels across lanes), and
// sumpool_int8 over non-overlapping windows in 16-bit lanes.
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

}  // namespace

void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool) { maxpool_int8_impl<Vec>(a, pool); }
void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool) {
  if (sumpool_tiled(a)) return sumpool_int8_tiled(a, pool);
  sumpool_int8_impl<Vec>(a, pool);
}
void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool) { maxpool_f32_impl<Vec>(a, pool); }
void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool) { avgpool_f32_impl<Vec>(a, pool); }
void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool) {
  global_sumpool_int8_impl<Vec>(a, pool);
}
void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool) {
  global_avgpool_f32_impl<Vec>(a, pool);
}

}  // namespace bnnflow::glue::avx2
