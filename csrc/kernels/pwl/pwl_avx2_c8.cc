// avx2 pwl_int8 and pwl_f32 (8 int32 / float32 lanes). pwl_int8 with C a multiple of 8 runs
// block-outer as the AVX-512 kernel does: per 8-channel block the six constant vectors (t, the
// two slopes zero-extended from 16 bits, the two offsets with the rounding term 2^(s-1), s)
// stay in registers over the rows, and per row the segment's slope and offset are selected
// first (one compare, two blends), then one vpmaddwd of q's (q, sign) int16 pairs against
// (M, 0) gives M·q exactly (|M·q| <= 32768·128 < 2^31) instead of the generic kernel's two
// vpmulld; the offset is added in wrapping int32 as in the scalar twin. Other channel counts:
// the generic kernels of pwl_impl.h. pwl_f32 is the generic kernel.
#include <immintrin.h>

#include "kernels/common/vec_avx2.h"
#include "kernels/pwl/pwl_impl.h"

namespace bnnflow::glue::avx2 {
namespace {

// Channels c..c+7 of rows [r0, r1) (row stride C), the block's constants in registers. (Read
// per row from memory, GCC reloads their pointers on every vector: the int8 stores may alias.)
void pwl_block8(const std::int8_t* x, std::int8_t* y, std::size_t C, std::size_t r0,
                std::size_t r1, __m256i t, __m256i mp, __m256i mn, __m256i bp, __m256i bn,
                __m256i s) {
  for (std::size_t r = r0; r < r1; ++r) {
    const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + r * C)));
    const __m256i neg = _mm256_cmpgt_epi32(t, q);  // q < t: the negative segment
    const __m256i m = _mm256_blendv_epi8(mp, mn, neg);
    const __m256i b = _mm256_blendv_epi8(bp, bn, neg);
    const __m256i v = _mm256_srav_epi32(_mm256_add_epi32(_mm256_madd_epi16(q, m), b), s);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + r * C), _mm_packs_epi16(w, w));
  }
}

// The six constants of an 8-channel block.
struct Block8 {
  __m256i t, mp, mn, bp, bn, s;
};

inline __m256i pwl_lanes(__m256i q, const Block8& k) {
  const __m256i neg = _mm256_cmpgt_epi32(k.t, q);
  const __m256i m = _mm256_blendv_epi8(k.mp, k.mn, neg);
  const __m256i b = _mm256_blendv_epi8(k.bp, k.bn, neg);
  return _mm256_srav_epi32(_mm256_add_epi32(_mm256_madd_epi16(q, m), b), k.s);
}

// Channels c..c+15 of rows [r0, r1) as two 8-channel blocks in one pass: the two results
// narrowed together (vpackssdw of both, vpermq, vpacksswb of the halves: 4 shuffles per 16
// bytes instead of 6), one 16-byte store per row.
void pwl_block16(const std::int8_t* x, std::int8_t* y, std::size_t C, std::size_t r0,
                 std::size_t r1, const Block8& lo, const Block8& hi) {
  for (std::size_t r = r0; r < r1; ++r) {
    const std::int8_t* xr = x + r * C;
    const __m256i q0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xr)));
    const __m256i q1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xr + 8)));
    // (v0 0-3, v1 0-3 | v0 4-7, v1 4-7) int16 -> (v0 0-3, v0 4-7 | v1 0-3, v1 4-7)
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(pwl_lanes(q0, lo), pwl_lanes(q1, hi)), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + r * C),
                     _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
  }
}

void pwl_int8_blocks(const PwlInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels;
  // mp, mn, bp, bn per channel: on the stack up to kStackChannels (a band chain calls once per
  // band), else one heap buffer.
  constexpr std::size_t kStackChannels = 256;
  alignas(32) std::int32_t stack[4 * kStackChannels];
  GlueBuffer<std::int32_t> heap;
  if (C > kStackChannels) heap.allocate(4 * C);
  std::int32_t* const mp = C > kStackChannels ? heap.data() : stack;
  std::int32_t *const mn = mp + C, *const bp = mn + C, *const bn = bp + C;
  for (std::size_t c = 0; c < C; ++c) {
    const std::int32_t r = round_term32(a.s[c]);
    mp[c] = static_cast<std::int32_t>(static_cast<std::uint16_t>(a.Mp[c]));
    mn[c] = static_cast<std::int32_t>(static_cast<std::uint16_t>(a.Mn[c]));
    bp[c] = wadd32(a.Bp[c], r);
    bn[c] = wadd32(a.Bn[c], r);
  }
  const std::int8_t* const x = a.x;
  std::int8_t* const y = a.y;
  const std::int32_t *const t = a.t, *const s = a.s;
  const auto ld = [](const std::int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  };
  const auto block = [=](std::size_t c) {
    return Block8{ld(t + c), ld(mp + c), ld(mn + c), ld(bp + c), ld(bn + c), ld(s + c)};
  };
  parallel_ranges(pool, a.rows, [=](std::size_t r0, std::size_t r1) {
    std::size_t c = 0;
    for (; c + 16 <= C; c += 16) pwl_block16(x + c, y + c, C, r0, r1, block(c), block(c + 8));
    if (c < C) {
      pwl_block8(x + c, y + c, C, r0, r1, ld(t + c), ld(mp + c), ld(mn + c), ld(bp + c),
                 ld(bn + c), ld(s + c));
    }
  });
}

}  // namespace

void pwl_int8(const PwlInt8Args& a, ThreadPool* pool) {
  if (a.channels % 8 == 0) return pwl_int8_blocks(a, pool);
  pwl_int8_impl<Vec>(a, pool);
}
void pwl_f32(const PwlF32Args& a, ThreadPool* pool) { pwl_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::avx2
