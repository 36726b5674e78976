// AVX-512 requant (16 int32 lanes, generic kernel) and requant32 (8 int64 lanes per step).
#include "kernels/glue_common/vec_avx512.h"
#include "kernels/glue_common/eltwise_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

void requant(const RequantArgs& a, ThreadPool* pool) { requant_impl<Vec>(a, pool); }

void requant32(const Requant32Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  GlueBuffer<std::int64_t> br(C), s64(C);
  for (std::size_t c = 0; c < C; ++c) {
    br[c] = wadd64(a.B[c], round_term64(a.s[c]));
    s64[c] = a.s[c];
  }
  const std::size_t Cv = C - C % 8;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += 8) {
        const __m512i xv = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c)));
        const __m512i mv = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.M + c)));
        __m512i v = _mm512_add_epi64(_mm512_mul_epi32(xv, mv), _mm512_loadu_si512(br.data() + c));
        v = _mm512_srav_epi64(v, _mm512_loadu_si512(s64.data() + c));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), _mm512_cvtsepi64_epi8(v));
      }
      for (; c < C; ++c) {
        const std::int64_t v = wadd64(static_cast<std::int64_t>(a.M[c]) * x[c], br[c]);
        y[c] = sat8(v >> a.s[c]);
      }
    }
  });
}

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
