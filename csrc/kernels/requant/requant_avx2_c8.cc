// AVX2 requant (8 int32 lanes, generic kernel) and requant32 (4 int64 lanes per step).
#include "kernels/common/vec_avx2.h"
#include "kernels/requant/requant_impl.h"

namespace bnnflow::glue::avx2 {

void requant(const RequantArgs& a, ThreadPool* pool) { requant_impl<Vec>(a, pool); }

void requant32(const Requant32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  GlueBuffer<std::int64_t> br(C), s64(C);
  for (std::size_t c = 0; c < C; ++c) {
    br[c] = wadd64(a.B[c], round_term64(a.s[c]));
    s64[c] = a.s[c];
  }
  const std::size_t Cv = C - C % 4;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    const __m256i lo = _mm256_set1_epi64x(-128), hi = _mm256_set1_epi64x(127);
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += 4) {
        const __m256i xv = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c)));
        const __m256i mv = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.M + c)));
        __m256i v = _mm256_add_epi64(_mm256_mul_epi32(xv, mv),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(br.data() + c)));
        // Arithmetic shift right of int64 lanes: ((v >>> s) ^ t) - t with t = 2^63 >>> s.
        const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s64.data() + c));
        const __m256i t = _mm256_srlv_epi64(sign, s);
        v = _mm256_sub_epi64(_mm256_xor_si256(_mm256_srlv_epi64(v, s), t), t);
        v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
        v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
        const __m128i d = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, even));
        const __m128i w = _mm_packs_epi32(d, d);
        const std::int32_t out = _mm_cvtsi128_si32(_mm_packs_epi16(w, w));
        std::memcpy(y + c, &out, 4);
      }
      for (; c < C; ++c) {
        const std::int64_t v = wadd64(static_cast<std::int64_t>(a.M[c]) * x[c], br[c]);
        y[c] = sat8(v >> a.s[c]);
      }
    }
  });
}

}  // namespace bnnflow::glue::avx2
