// AVX2 dense_int8: 4 outputs at a time, 16 inputs per step widened to int16 (exact), vpmaddwd
// into int32 lanes, horizontal sum at the end; input tail in scalar code.
#include <immintrin.h>

#include "kernels/dense_int8/dense_int8.h"

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

template <int R>
void rows(const DenseInt8Args& a, std::size_t n, std::size_t o) {
  const std::int8_t* x = a.x + n * a.Cin;
  __m256i acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_si256();
  std::size_t c = 0;
  for (; c + 16 <= a.Cin; c += 16) {
    const __m256i xv = ld16(x + c);
    for (int r = 0; r < R; ++r) {
      const __m256i wv = ld16(a.w + (o + r) * a.Cin + c);
      acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(xv, wv));
    }
  }
  for (int r = 0; r < R; ++r) {
    std::uint32_t s = static_cast<std::uint32_t>(a.bias[o + r]);
    s += static_cast<std::uint32_t>(hsum(acc[r]));
    for (std::size_t k = c; k < a.Cin; ++k) {
      s += static_cast<std::uint32_t>(static_cast<std::int32_t>(a.w[(o + r) * a.Cin + k]) * x[k]);
    }
    a.y[n * a.Cout + o + r] = static_cast<std::int32_t>(s);
  }
}

}  // namespace

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) {
  const std::size_t nb = (a.Cout + kDenseBlock - 1) / kDenseBlock;
  parallel_ranges(pool, a.N * nb, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / nb, o0 = (u % nb) * kDenseBlock;
      const std::size_t o1 = o0 + kDenseBlock < a.Cout ? o0 + kDenseBlock : a.Cout;
      std::size_t o = o0;
      for (; o + 4 <= o1; o += 4) rows<4>(a, n, o);
      for (; o < o1; ++o) rows<1>(a, n, o);
    }
  });
}

}  // namespace bnnflow::glue::avx2
