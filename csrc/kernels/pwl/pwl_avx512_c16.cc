// avx512 pwl_int8 and pwl_f32. pwl_int8 runs 16 channels per step: the slope and offset of
// each lane's segment are selected first (one compare, two blends), then a single vpmaddwd
// of (q, sign) int16 pairs against (M, 0) gives M·q exactly (|M·q| ≤ 32768·128 < 2^31),
// where the generic kernel computes both segments with two vpmulld. Offsets carry the
// rounding term 2^(s−1); int32 sums wrap as in the scalar twin. Channel tails use the scalar
// formula. pwl_f32 is the generic kernel of pwl_impl.h.
#include "kernels/common/vec_avx512.h"
#include "kernels/pwl/pwl_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

// Per-channel constants: slopes zero-extended from 16 bits, offsets with the rounding term.
struct PwlConsts {
  GlueBuffer<std::int32_t> mp, bp, mn, bn;
  explicit PwlConsts(const PwlInt8Args& a) : mp(a.channels), bp(a.channels), mn(a.channels), bn(a.channels) {
    for (std::size_t c = 0; c < a.channels; ++c) {
      const std::int32_t r = round_term32(a.s[c]);
      mp[c] = static_cast<std::int32_t>(static_cast<std::uint16_t>(a.Mp[c]));
      mn[c] = static_cast<std::int32_t>(static_cast<std::uint16_t>(a.Mn[c]));
      bp[c] = wadd32(a.Bp[c], r);
      bn[c] = wadd32(a.Bn[c], r);
    }
  }
};

inline void pwl_16(const std::int8_t* x, std::int8_t* y, const PwlConsts& k, const PwlInt8Args& a,
                   std::size_t c) {
  const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
  const __mmask16 pos = _mm512_cmpge_epi32_mask(q, _mm512_loadu_si512(a.t + c));
  const __m512i m = _mm512_mask_blend_epi32(pos, _mm512_loadu_si512(k.mn.data() + c),
                                            _mm512_loadu_si512(k.mp.data() + c));
  const __m512i b = _mm512_mask_blend_epi32(pos, _mm512_loadu_si512(k.bn.data() + c),
                                            _mm512_loadu_si512(k.bp.data() + c));
  const __m512i v = _mm512_srav_epi32(Vec::madd16_add(b, q, m), _mm512_loadu_si512(a.s + c));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm512_cvtsepi32_epi8(v));
}

// Channels c..c+15 of rows [r0, r1) (row stride C) with the block's six constant vectors held
// in registers: per row a load, a compare, two blends, one vpdpwssd (multiply-add and offset),
// a shift, vpmovsdb and a store. (Per row and block from memory, GCC reloaded the constants'
// pointers through the arguments on every row: the int8 stores may alias them; QuickNet's
// 16-channel stem pwl ran at ~16 cycles per pixel.)
void pwl_block16(const std::int8_t* x, std::int8_t* y, std::size_t C, std::size_t r0,
                 std::size_t r1, __m512i t, __m512i mp, __m512i mn, __m512i bp, __m512i bn,
                 __m512i s) {
  for (std::size_t r = r0; r < r1; ++r) {
    const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + r * C)));
    const __mmask16 pos = _mm512_cmpge_epi32_mask(q, t);
    const __m512i m = _mm512_mask_blend_epi32(pos, mn, mp);
    const __m512i b = _mm512_mask_blend_epi32(pos, bn, bp);
    const __m512i v = _mm512_srav_epi32(Vec::madd16_add(b, q, m), s);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + r * C), _mm512_cvtsepi32_epi8(v));
  }
}

}  // namespace

void pwl_int8(const PwlInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels, Cv = C - C % 16;
  const PwlConsts k(a);
  if (Cv == C) {  // whole 16-channel blocks: block-outer, the constants in registers
    const std::int8_t* const x = a.x;
    std::int8_t* const y = a.y;
    const std::int32_t *const t = a.t, *const s = a.s, *const mp = k.mp.data(), *const mn = k.mn.data(),
                              *const bp = k.bp.data(), *const bn = k.bn.data();
    parallel_ranges(pool, a.rows, [=](std::size_t r0, std::size_t r1) {
      for (std::size_t c = 0; c < C; c += 16) {
        pwl_block16(x + c, y + c, C, r0, r1, _mm512_loadu_si512(t + c), _mm512_loadu_si512(mp + c),
                    _mm512_loadu_si512(mn + c), _mm512_loadu_si512(bp + c), _mm512_loadu_si512(bn + c),
                    _mm512_loadu_si512(s + c));
      }
    });
    return;
  }
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* x = a.x + r * C;
      std::int8_t* y = a.y + r * C;
      std::size_t c = 0;
      for (; c < Cv; c += 16) pwl_16(x + c, y + c, k, a, c);
      for (; c < C; ++c) {
        const std::int32_t q = x[c];
        const std::int32_t v = q >= a.t[c] ? wadd32(a.Mp[c] * q, k.bp.data()[c]) : wadd32(a.Mn[c] * q, k.bn.data()[c]);
        y[c] = sat8(v >> a.s[c]);
      }
    }
  });
}

void pwl_f32(const PwlF32Args& a, ThreadPool* pool) { pwl_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
