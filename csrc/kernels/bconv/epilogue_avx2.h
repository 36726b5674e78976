// AVX2 epilogue helpers shared by the AVX2 tile epilogue (bconv_epilogue_avx2_8.cc) and the
// micro-kernels that finish their tiles in registers (bconv_avx2_4x16.cc). Include only from
// *_avx2_* sources.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/bconv/epilogue.h"

namespace bnnflow::avx2::ep {

inline __m256i load8(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline void store_int8x8(int8_t* y, __m256i v) {  // saturates v to [-128, 127]
  const __m256i w16 = _mm256_packs_epi32(v, v);      // per lane: v0..3 v0..3 | v4..7 v4..7
  const __m256i w8 = _mm256_packs_epi16(w16, w16);
  const int lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(w8));
  const int hi = _mm_cvtsi128_si32(_mm256_extracti128_si256(w8, 1));
  std::memcpy(y, &lo, 4);
  std::memcpy(y + 4, &hi, 4);
}

// Where the packed bits of channels o..o+7 go: word index in the pixel's row and bit offset,
// or word = -1 when they straddle a word or group boundary.
inline void packed_slot(const EpilogueWriter& w, int o, int* word, int* bit) {
  const int g = o / w.og_ch, oc = o % w.og_ch;
  const bool simple = oc + 8 <= w.og_ch && oc % 32 <= 24;
  *word = simple ? g * w.og_words + oc / 32 : -1;
  *bit = oc % 32;
}

// int8 requant of 8 channels o.. before the final saturation: rshift_round(M·clamp(d, −128,
// 127) + B, s) in int32 lanes, exact when EpilogueWriter::int8_fits_32 (callers check).
// q in [−128, 127] and M zero-extended: vpmaddwd of (q, ·)·(M, 0) pairs is M·q.
inline __m256i requant8(const EpilogueWriter& w, __m256i d, int o) {
  const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
  const __m256i q = _mm256_min_epi32(_mm256_max_epi32(d, lo), hi);
  const __m256i mq = _mm256_madd_epi16(q, load8(w.mult_u16_data + o));
  const __m256i v = _mm256_add_epi32(mq, load8(w.offset_round_data + o));
  return _mm256_srav_epi32(v, load8(w.ep.shift + o));
}

inline __m256i sat8(__m256i v) {
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
}

// One call's residual tail state in locals (EpilogueWriter::enable_tail): the int8 stores may
// alias anything, so fields read through the writer would be reloaded after each of them.
struct TailRun {
  const int32_t* table;
  int8_t* out;
  const int8_t* r;
  size_t row;
  uint32_t* bits;
  size_t words;
  bool pwl;
  explicit TailRun(const EpilogueWriter& w)
      : table(w.tail_table),
        out(static_cast<int8_t*>(w.out)),
        r(w.tail->r),
        row(w.row_elems),
        bits(w.tail->bits),
        words(w.tail_words),
        pwl(w.tail->pwl) {}
  // The parameters of channel o (TailParam k at [k·16]).
  const int32_t* params(int o) const { return table + (o >> 4) * (16 * kTailParams) + (o & 15); }
  // The row of the pack's bits of pixel `pix` (null: no pack).
  uint32_t* bits_row(size_t pix) const { return bits != nullptr ? bits + pix * words : nullptr; }
};

// min(max(d, lo), hi) then min(max(·, −128), 127) in one clamp: the bounds of the two
// clamps composed (Int8Bounds), for the int8 epilogues' q = clamp(d', −128, 127).
struct Int8Bounds {
  __m256i lo, hi;
  explicit Int8Bounds(const EpilogueWriter& w) {
    const auto c8 = [](int32_t v) { return v < -128 ? -128 : (v > 127 ? 127 : v); };
    lo = _mm256_set1_epi32(c8(w.ep.lo));
    hi = _mm256_set1_epi32(c8(w.ep.hi));
  }
  __m256i q(__m256i d) const { return _mm256_min_epi32(_mm256_max_epi32(d, lo), hi); }
};

// The int8 requant of the tail's 8 channels at p (TailRun::params) from q = clamp(d', −128,
// 127), before the final saturation.
inline __m256i tail_requant8(const int32_t* p, __m256i q) {
  const __m256i mq = _mm256_add_epi32(_mm256_madd_epi16(q, load8(p + 16 * kTpMult)),
                                      load8(p + 16 * kTpOffset));
  return _mm256_srav_epi32(mq, load8(p + 16 * kTpShift));
}

// The pwl of 8 channels at p (TailParam rows) on v in [−128, 127]: the multiplier and offset
// picked per lane, one vpmaddwd with the zero-extended Mp / Mn; before the final saturation.
// (vblendvps on the 32-bit masks: with vpblendvb, GCC 12 re-derived the byte mask by one more
// compare per blend here.)
inline __m256i tail_pwl8(const int32_t* p, __m256i v) {
  const __m256 neg = _mm256_castsi256_ps(_mm256_cmpgt_epi32(load8(p + 16 * kTpT), v));
  const auto pick = [p, neg](TailParam pos, TailParam ng) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(
                                                    p + 16 * pos)),
                                                _mm256_loadu_ps(reinterpret_cast<const float*>(
                                                    p + 16 * ng)),
                                                neg));
  };
  const __m256i m = pick(kTpMp, kTpMn);
  const __m256i b = pick(kTpBp, kTpBn);
  return _mm256_srav_epi32(_mm256_add_epi32(_mm256_madd_epi16(v, m), b), load8(p + 16 * kTpPs));
}

// 16 int8 values, two vectors of 8 int32 lanes (channels 0-7, 8-15) saturated to [−128, 127]
// by the int32 -> int16 -> int8 signed-saturating packs, in channel order in the low 128 bits.
inline __m128i pack_int8x16(__m256i a, __m256i b) {
  const __m256i w16 = _mm256_packs_epi32(a, b);   // a0-3 b0-3 | a4-7 b4-7
  const __m256i w8 = _mm256_packs_epi16(w16, w16);  // bytes: a0-3 b0-3 a0-3 b0-3 | a4-7 ...
  return _mm256_castsi256_si128(
      _mm256_permutevar8x32_epi32(w8, _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5)));
}

// The residual tail (ResidualTail, bconv.h) of the 16 channels o.. (o a multiple of 16) of
// pixel `pix` from q = clamp(d', −128, 127) (qa: channels o..o+7, qb: o+8..o+15): requant, add, pwl
// (kPwl), the int8 store; returns the pack's bits (bit b: channel o+b below pack_t) when
// kBits. Where 16-bit lanes are exact they carry the data:
// - y saturated to [−128, 127] as int16: one vpackssdw (channels 0-3 8-11 | 4-7 12-15) and
//   two 16-bit clamps instead of four 32-bit ones;
// - the (y, r) int16 pairs of the add's vpmaddwd: r sign-extended to int16 (vpmovsxbw) and
//   put in the same order (vpermq), then vpunpcklwd / vpunpckhwd give the pairs of channels
//   0-7 and 8-15 (instead of two vpmovsxbd, two shifts and two blends);
// - the output saturated by the packs alone and the pack's bits from one byte compare of the
//   16 stored bytes with the int8 threshold row (kTpPackT8), one movemask and one andn.
template <bool kPwl, bool kBits>
inline uint32_t tail16(const TailRun& tr, __m256i qa, __m256i qb, size_t pix, int o) {
  const int32_t* p = tr.params(o);
  const size_t at = pix * tr.row + o;
  __m256i y16 = _mm256_packs_epi32(tail_requant8(p, qa), tail_requant8(p + 8, qb));
  y16 = _mm256_min_epi16(_mm256_max_epi16(y16, _mm256_set1_epi16(-128)), _mm256_set1_epi16(127));
  const __m256i r16 = _mm256_permute4x64_epi64(
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tr.r + at))), 0xD8);
  const auto add8 = [p](__m256i yr, int h) {
    const __m256i v = _mm256_add_epi32(_mm256_madd_epi16(yr, load8(p + 16 * kTpPairs + h)),
                                       load8(p + 16 * kTpBr + h));
    return _mm256_srav_epi32(v, load8(p + 16 * kTpS + h));
  };
  __m256i va = add8(_mm256_unpacklo_epi16(y16, r16), 0);
  __m256i vb = add8(_mm256_unpackhi_epi16(y16, r16), 8);
  if constexpr (kPwl) {
    va = tail_pwl8(p, sat8(va));
    vb = tail_pwl8(p + 8, sat8(vb));
  }
  const __m128i y = pack_int8x16(va, vb);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tr.out + at), y);
  if constexpr (!kBits) return 0;
  // bit = not (y > t − 1) and keep (kTpPackT8): vpcmpgtb with the row as its memory operand,
  // vpmovmskb, andn
  const int32_t* t8 = p + 16 * kTpPackT8;  // the chunk's row (o is a multiple of 16)
  const __m128i above =
      _mm_cmpgt_epi8(y, _mm_loadu_si128(reinterpret_cast<const __m128i*>(t8)));
  return ~static_cast<uint32_t>(_mm_movemask_epi8(above)) & static_cast<uint32_t>(t8[4]);
}

// 16 int8 values (two vectors of 8 int32 lanes, saturated to [−128, 127]: int32 -> int16 ->
// int8 signed-saturating packs) stored at y.
inline void store_int8x16(int8_t* y, __m256i a, __m256i b) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y), pack_int8x16(a, b));
}

// 8 channels o..o+7 of pixel `pix`, d already clamped (word/bit: see packed_slot).
template <EpilogueKind kKind>
inline void store8(const EpilogueWriter& w, __m256i d, size_t pix, int o, int word, int bit) {
  const Epilogue& ep = w.ep;
  if constexpr (kKind == EpilogueKind::kInt32) {
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(static_cast<int32_t*>(w.out) + pix * w.row_elems + o), d);
  } else if constexpr (kKind == EpilogueKind::kFloat) {
    // float32(d)·scale rounded, then + bias rounded — never a fused multiply-add (the empty
    // asm makes the product opaque to contraction), so every ISA gives the reference's bits.
    __m256 prod = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(ep.scale + o));
    __asm__("" : "+x"(prod));
    const __m256 y = _mm256_add_ps(prod, _mm256_loadu_ps(ep.bias + o));
    _mm256_storeu_ps(static_cast<float*>(w.out) + pix * w.row_elems + o, y);
  } else if constexpr (kKind == EpilogueKind::kInt8) {
    // The signed-saturating packs of store_int8x8 clamp to [−128, 127].
    store_int8x8(static_cast<int8_t*>(w.out) + pix * w.row_elems + o, requant8(w, d, o));
  } else {
    // word = -1: the 8 channels straddle a word or group boundary (rare): bit by bit.
    const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_ps(
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(load8(ep.threshold + o), d))));
    uint32_t* row = static_cast<uint32_t*>(w.out) + pix * w.row_elems;
    if (word >= 0) {
      row[word] |= bits << bit;
    } else {
      for (int b = 0; b < 8; ++b) {
        if (!(bits >> b & 1u)) continue;
        const int gg = (o + b) / w.og_ch, cc = (o + b) % w.og_ch;
        row[gg * w.og_words + cc / 32] |= 1u << (cc % 32);
      }
    }
  }
}

}  // namespace bnnflow::avx2::ep

