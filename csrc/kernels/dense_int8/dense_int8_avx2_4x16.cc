// AVX2 dense_int8: 4 outputs at a time, 16 inputs per step widened to int16 (exact), vpmaddwd
// into int32 lanes, horizontal sum at the end; input tail in scalar code.
#include <immintrin.h>

#include "kernels/dense_int8/dense_int8_impl.h"

namespace bnnflow::glue::avx2 {
namespace {

inline std::int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i ld16(const std::int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Four outputs read four weight rows of Cin bytes each, 16 bytes a step: at batch 1 (the
// classifier, 512 x 1000 bytes, not in L2 after the rest of the model ran) each row is a
// stream of only Cin / 64 lines, too short for the hardware prefetcher, and the loads waited
// on memory. Each step therefore prefetches one line of the rows kPrefetchAhead outputs on
// (4 rows of Cin bytes = Cin / 16 lines = one per step): prefetches never fault.
constexpr std::size_t kPrefetchAhead = 8;

struct Rows {
  template <int R>
  static void run(const DenseInt8Args& a, std::size_t n, std::size_t o) {
    const std::int8_t* x = a.x + n * a.Cin;
    // The last rows prefetch their own (no pointer past the weights' end).
    const std::size_t oa = o + kPrefetchAhead + 4 <= a.Cout ? o + kPrefetchAhead : o;
    const char* ahead = reinterpret_cast<const char*>(a.w + oa * a.Cin);
    __m256i acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_si256();
    std::size_t c = 0;
    for (; c + 16 <= a.Cin; c += 16) {
      if constexpr (R == 4) _mm_prefetch(ahead + c * 4, _MM_HINT_T0);
      const __m256i xv = ld16(x + c);
      for (int r = 0; r < R; ++r) {
        const __m256i wv = ld16(a.w + (o + r) * a.Cin + c);
        acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(xv, wv));
      }
    }
    for (int r = 0; r < R; ++r) dense_finish(a, n, o + r, c, hsum(acc[r]));
  }
};

}  // namespace

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) { dense_int8_impl<Rows>(a, pool); }

}  // namespace bnnflow::glue::avx2
