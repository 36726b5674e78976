// AVX2 requant (8 int32 lanes, generic kernel) and requant32 (4 int64 lanes per step; a
// prepared requant32 8 channels per step in int32 lanes or as int64 products' high dwords).
#include "kernels/common/vec_avx2.h"
#include "kernels/requant/requant32_avx2_lanes.h"
#include "kernels/requant/requant_impl.h"

namespace bnnflow::glue::avx2 {

void requant(const RequantArgs& a, ThreadPool* pool) { requant_impl<Vec>(a, pool); }

namespace {

// Prepared requant32 (requant32_plan.h), 8 channels from c (h = c / 2): requant32_avx2_lanes.h.
template <Rq32Mode kMode>
inline __m256i rq32p_lanes(const std::int32_t* x, const PreparedRequant32& p, std::size_t c,
                           std::size_t h) {
  return rq32p_apply<kMode>(rq32p_ld(x), p, c, h);
}

// Four vectors narrowed per 32-byte store, then single vectors, then the scalar twin for
// C % 8 channels; the parameters in the range's locals (the int8 stores may alias anything).
template <Rq32Mode kMode>
void rq32p_rows(const Requant32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.rows, [&a](std::size_t r0, std::size_t r1) {
    const PreparedRequant32 p = *a.prep;
    const std::size_t C = a.channels, Cv = C / 8 * 8;
    const std::int32_t* const x0 = a.x;
    std::int8_t* const y0 = a.y;
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = x0 + r * C;
      std::int8_t* y = y0 + r * C;
      std::size_t c = 0;
      for (; c + 32 <= Cv; c += 32) {
        const std::size_t h = c / 2;
        const __m256i b = rq32p_pack32(rq32p_lanes<kMode>(x + c, p, c, h),
                                       rq32p_lanes<kMode>(x + c + 8, p, c + 8, h + 4),
                                       rq32p_lanes<kMode>(x + c + 16, p, c + 16, h + 8),
                                       rq32p_lanes<kMode>(x + c + 24, p, c + 24, h + 12));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + c), b);
      }
      for (; c < Cv; c += 8) {
        const __m256i v = _mm256_packs_epi32(rq32p_lanes<kMode>(x + c, p, c, c / 2), _mm256_setzero_si256());
        const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(v, v), order);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), _mm256_castsi256_si128(b));
      }
      for (; c < C; ++c) y[c] = requant32_prepared_at(p, c, x[c]);
    }
  });
}

}  // namespace

void requant32(const Requant32Args& a, ThreadPool* pool) {
  if (a.prep != nullptr && a.prep->mode == Rq32Mode::kInt32) return rq32p_rows<Rq32Mode::kInt32>(a, pool);
  if (a.prep != nullptr && a.prep->mode == Rq32Mode::kHigh32) return rq32p_rows<Rq32Mode::kHigh32>(a, pool);
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
