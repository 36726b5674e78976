// AVX-512 requant (16 int32 lanes, generic kernel) and requant32 (16 channels per step as
// even/odd int64 halves; a prepared requant32 in int32 lanes, or int64 products of which only
// the high dwords are used).

#include "kernels/common/vec_avx512.h"
#include "kernels/requant/requant32_avx512_lanes.h"
#include "kernels/requant/requant_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

void requant(const RequantArgs& a, ThreadPool* pool) { requant_impl<Vec>(a, pool); }

// requant32, 16 channels per step: the per-channel parameters are re-laid once per call as
// int64 vectors for the even and the odd channels of each group of 16 (M, B + rounding term,
// s). x's even lanes go to vpmuldq as they are, the odd ones as the even lanes of a load at
// x + 1 (a 32-bit shift instead where that would read past the end of x); the int64
// sums are shifted (vpsravq), clamped to [-128, 127] in 64 bits, merged back into 16 int32
// lanes (vpermt2d) and narrowed with the (then exact) saturating packs, four groups at a time.
// A channel tail (C % 16) runs 8 lanes at a time as int64, then scalar.
namespace {

// odd_load: x[16] may be read (x + 1 then holds the odd lanes in its even dwords).
template <bool odd_load>
inline __m512i rq32_group(const std::int32_t* x, const std::int64_t* g) {
  const __m512i lo = _mm512_set1_epi64(-128), hi = _mm512_set1_epi64(127);
  const __m512i xe = _mm512_loadu_si512(x);
  const __m512i xo = odd_load ? _mm512_loadu_si512(x + 1) : _mm512_srli_epi64(xe, 32);
  __m512i e = _mm512_mul_epi32(xe, _mm512_load_si512(g));
  __m512i o = _mm512_mul_epi32(xo, _mm512_load_si512(g + 8));
  e = _mm512_add_epi64(e, _mm512_load_si512(g + 16));
  o = _mm512_add_epi64(o, _mm512_load_si512(g + 24));
  e = _mm512_srav_epi64(e, _mm512_load_si512(g + 32));
  o = _mm512_srav_epi64(o, _mm512_load_si512(g + 40));
  e = _mm512_min_epi64(_mm512_max_epi64(e, lo), hi);
  o = _mm512_min_epi64(_mm512_max_epi64(o, lo), hi);
  // lane 2j <- e's dword 2j, lane 2j+1 <- o's dword 2j
  const __m512i idx = _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2, 16, 0);
  return _mm512_permutex2var_epi32(e, idx, o);
}

// Prepared requant32 (requant32_plan.h), 16 channels from c (h = c / 2): requant32_avx512_lanes.h.
template <Rq32Mode kMode>
inline __m512i rq32p_lanes(const std::int32_t* x, const PreparedRequant32& p, std::size_t c,
                           std::size_t h) {
  return rq32p_apply<kMode>(_mm512_loadu_si512(x), p, c, h);
}

// Four groups of 16 channels narrowed per 64-byte store, then single groups, then the scalar
// twin for C % 16 channels. The parameters are copied into the range's locals: the int8
// stores may alias anything, so fields read through a.prep would be reloaded after each.
template <Rq32Mode kMode>
void rq32p_rows(const Requant32Args& a, ThreadPool* pool) {
  parallel_ranges(pool, a.rows, [&a](std::size_t r0, std::size_t r1) {
    const PreparedRequant32 p = *a.prep;
    const std::size_t C = a.channels, Cg = C / 16 * 16;
    const std::int32_t* const x0 = a.x;
    std::int8_t* const y0 = a.y;
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = x0 + r * C;
      std::int8_t* y = y0 + r * C;
      std::size_t c = 0;
      for (; c + 64 <= Cg; c += 64) {
        const std::size_t h = c / 2;
        const __m512i v0 = rq32p_lanes<kMode>(x + c, p, c, h);
        const __m512i v1 = rq32p_lanes<kMode>(x + c + 16, p, c + 16, h + 8);
        const __m512i v2 = rq32p_lanes<kMode>(x + c + 32, p, c + 32, h + 16);
        const __m512i v3 = rq32p_lanes<kMode>(x + c + 48, p, c + 48, h + 24);
        _mm512_storeu_si512(y + c, rq32p_pack64(v0, v1, v2, v3));
      }
      for (; c < Cg; c += 16) {
        const __m512i v = _mm512_packs_epi32(rq32p_lanes<kMode>(x + c, p, c, c / 2), _mm512_setzero_si512());
        const __m512i b = _mm512_permutexvar_epi32(order, _mm512_packs_epi16(v, v));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + c), _mm512_castsi512_si128(b));
      }
      for (; c < C; ++c) y[c] = requant32_prepared_at(p, c, x[c]);
    }
  });
}

}  // namespace

void requant32(const Requant32Args& a, ThreadPool* pool) {
  if (a.prep != nullptr && a.prep->mode == Rq32Mode::kInt32) return rq32p_rows<Rq32Mode::kInt32>(a, pool);
  if (a.prep != nullptr && a.prep->mode == Rq32Mode::kHigh32) return rq32p_rows<Rq32Mode::kHigh32>(a, pool);
  const std::size_t C = a.channels, G = C / 16, Cg = G * 16;
  // Per group of 16 channels: M even, M odd, B+r even, B+r odd, s even, s odd (8 int64 each).
  // On the stack for up to 336 channels (the fused conv calls this once per output row).
  const std::size_t need = G * 48 + 2 * (C - Cg);
  alignas(64) std::int64_t local[1024];
  GlueBuffer<std::int64_t> heap;
  if (need > 1024) heap.allocate(need);
  std::int64_t* const pbase = need > 1024 ? heap.data() : local;
  for (std::size_t g = 0; g < G; ++g) {
    std::int64_t* p = pbase + g * 48;
    for (std::size_t j = 0; j < 16; ++j) {
      const std::size_t c = g * 16 + j, k = j / 2 + (j % 2) * 8;
      p[k] = a.M[c];
      p[16 + k] = wadd64(a.B[c], round_term64(a.s[c]));
      p[32 + k] = a.s[c];
    }
  }
  std::int64_t* br = pbase + G * 48;  // tail channels: B + r, s
  std::int64_t* s64 = br + (C - Cg);
  for (std::size_t c = Cg; c < C; ++c) {
    br[c - Cg] = wadd64(a.B[c], round_term64(a.s[c]));
    s64[c - Cg] = a.s[c];
  }
  const std::size_t Ct = Cg + (C - Cg) / 8 * 8;
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const std::int64_t* pg = pbase;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int32_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t g = 0;
      const bool last = r + 1 == a.rows && Cg == C;  // no element past the last group
      for (; g + 4 <= G; g += 4) {
        const __m512i v0 = rq32_group<true>(x + g * 16, pg + g * 48);
        const __m512i v1 = rq32_group<true>(x + g * 16 + 16, pg + g * 48 + 48);
        const __m512i v2 = rq32_group<true>(x + g * 16 + 32, pg + g * 48 + 96);
        const __m512i v3 = last && g + 4 == G ? rq32_group<false>(x + g * 16 + 48, pg + g * 48 + 144)
                                              : rq32_group<true>(x + g * 16 + 48, pg + g * 48 + 144);
        const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(v0, v1), _mm512_packs_epi32(v2, v3));
        _mm512_storeu_si512(y + g * 16, _mm512_permutexvar_epi32(order, b));
      }
      for (; g < G; ++g) {
        const __m512i v = last && g + 1 == G ? rq32_group<false>(x + g * 16, pg + g * 48)
                                             : rq32_group<true>(x + g * 16, pg + g * 48);
        const __m512i p = _mm512_packs_epi32(v, v);
        const __m512i b = _mm512_permutexvar_epi32(order, _mm512_packs_epi16(p, p));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + g * 16), _mm512_castsi512_si128(b));
      }
      std::size_t c = Cg;
      for (; c < Ct; c += 8) {
        const __m512i xv = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c)));
        const __m512i mv = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.M + c)));
        __m512i v = _mm512_add_epi64(_mm512_mul_epi32(xv, mv), _mm512_loadu_si512(br + (c - Cg)));
        v = _mm512_srav_epi64(v, _mm512_loadu_si512(s64 + (c - Cg)));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), _mm512_cvtsepi64_epi8(v));
      }
      for (; c < C; ++c) {
        const std::int64_t v = wadd64(static_cast<std::int64_t>(a.M[c]) * x[c], br[c - Cg]);
        y[c] = sat8(v >> a.s[c]);
      }
    }
  });
}

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
