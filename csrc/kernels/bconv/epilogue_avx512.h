// AVX-512 epilogue helpers shared by the AVX-512 tile epilogue (bconv_epilogue_avx512_16.cc)
// and the micro-kernels that finish their tiles in registers (bconv_avx512_6x64.cc): 16
// output channels per step. Include only from *_avx512_* sources (native or SIMDe build).
#pragma once
#include <cstring>

#include "kernels/bconv/epilogue.h"
#include "kernels/common/isa_avx512.h"

namespace bnnflow::BNNFLOW_AVX512_NS::ep {

inline __m512i load16(const int32_t* p) { return _mm512_loadu_si512(p); }

using bnnflow::BNNFLOW_AVX512_NS::madd16;  // common/isa_avx512.h
using bnnflow::BNNFLOW_AVX512_NS::madd16_add;

// Where the packed bits of channels o..o+15 go: word index in the pixel's row and bit
// offset, or word = -1 when they straddle a word or group boundary.
inline void packed_slot(const EpilogueWriter& w, int o, int* word, int* bit) {
  const int g = o / w.og_ch, oc = o % w.og_ch;
  const bool simple = oc + 16 <= w.og_ch && oc % 32 <= 16;
  *word = simple ? g * w.og_words + oc / 32 : -1;
  *bit = oc % 32;
}

// Bit b set where channel o+b is below its threshold (the sign of the next layer is -1).
inline uint32_t below_threshold(const EpilogueWriter& w, __m512i d, int o) {
  return static_cast<uint32_t>(_mm512_cmpgt_epi32_mask(load16(w.ep.threshold + o), d));
}

// int8 requant of 16 channels o.. before the final saturation: rshift_round(M·clamp(d, −128,
// 127) + B, s) in int32 lanes. Exact only when EpilogueWriter::int8_fits_32 (callers check).
// q in [−128, 127] and M zero-extended: vpmaddwd of (q, ·)·(M, 0) pairs is M·q.
inline __m512i requant16(const EpilogueWriter& w, __m512i d, int o) {
  const __m512i q =
      _mm512_min_epi32(_mm512_max_epi32(d, _mm512_set1_epi32(-128)), _mm512_set1_epi32(127));
  const __m512i v = madd16_add(load16(w.offset_round_data + o), q, load16(w.mult_u16_data + o));
  return _mm512_srav_epi32(v, load16(w.ep.shift + o));
}

// The int8 epilogue's state in locals, for the fused loops (see TailRun below): one pointer
// and one stride reach the three parameter rows (EpilogueWriter::int8_params).
struct Int8Run {
  const int32_t* params;
  size_t stride;
  int8_t* out;
  size_t row;
  explicit Int8Run(const EpilogueWriter& w)
      : params(w.int8_params),
        stride(w.int8_stride),
        out(static_cast<int8_t*>(w.out)),
        row(w.row_elems) {}
  // requant16 of channels o.. before the final saturation
  __m512i requant(__m512i d, int o) const {
    const __m512i q =
        _mm512_min_epi32(_mm512_max_epi32(d, _mm512_set1_epi32(-128)), _mm512_set1_epi32(127));
    const int32_t* p = params + o;
    const __m512i v = madd16_add(load16(p + stride), q, load16(p));
    return _mm512_srav_epi32(v, load16(p + 2 * stride));
  }
  // requant16 of channels o.. of pixel pix, saturated and stored
  void store(__m512i d, size_t pix, int o) const {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + pix * row + o),
                     _mm512_cvtsepi32_epi8(requant(d, o)));
  }
};

// 64 int8 values, saturated from four vectors of 16 int32 lanes (channels 0-15, 16-31, 32-47,
// 48-63), stored at y: two vpackssdw and one vpacksswb (int32 -> int16 -> int8, each
// saturating, per 128-bit lane) and one vpermd back to channel order — instead of four
// vpmovsdb (two uops each) and four stores.
inline void store_int8x64(int8_t* y, __m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
  // 128-bit lane L holds the dwords (a_L, b_L, c_L, d_L), channel groups of 4
  const __m512i order =
      _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_si512(y, _mm512_permutexvar_epi32(order, bytes));
}

inline __m512i sat8(__m512i v) {
  return _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(-128)), _mm512_set1_epi32(127));
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

// The residual tail (ResidualTail, bconv.h) of 16 channels o.. of pixel `pix` from the
// clamped d: requant, add (one vpmaddwd of the (y, r) int16 pairs with (My, Mr)), pwl (the
// multiplier and offset picked per lane, then one vpmaddwd with the zero-extended Mp / Mn),
// int8 store; returns the pack's bits (channel o+b below pack_t: bit b).
inline uint32_t tail16(const TailRun& tr, __m512i d, size_t pix, int o) {
  const int32_t* p = tr.params(o);
  const auto param = [p](TailParam k) { return load16(p + 16 * k); };
  const size_t at = pix * tr.row + o;
  const __m512i q = sat8(d);
  const __m512i mq = madd16_add(param(kTpOffset), q, param(kTpMult));
  const __m512i y = sat8(_mm512_srav_epi32(mq, param(kTpShift)));
  const __m512i r =
      _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tr.r + at)));
  const __m512i yr = _mm512_mask_blend_epi16(0xAAAAAAAAu, y, _mm512_slli_epi32(r, 16));
  __m512i v = madd16_add(param(kTpBr), yr, param(kTpPairs));
  v = sat8(_mm512_srav_epi32(v, param(kTpS)));
  if (tr.pwl) {
    const __mmask16 neg = _mm512_cmplt_epi32_mask(v, param(kTpT));
    const __m512i m = _mm512_mask_blend_epi32(neg, param(kTpMp), param(kTpMn));
    const __m512i b = _mm512_mask_blend_epi32(neg, param(kTpBp), param(kTpBn));
    v = sat8(_mm512_srav_epi32(madd16_add(b, v, m), param(kTpPs)));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tr.out + at), _mm512_cvtsepi32_epi8(v));
  if (tr.bits == nullptr) return 0;
  return static_cast<uint32_t>(_mm512_cmplt_epi32_mask(v, param(kTpPackT)));
}

// The residual tail of one pixel's whole 64-channel block in 16-bit lanes where they are exact
// (EpilogueWriter::tail_q64; the same formulas as tail16): the sums S packed to int16
// (S <= K <= 32767), q = clamp(K − 2·S) to the composed bounds there; the requant's
// vpmaddwd of those int16 pairs with (M, 0) / (0, M) keeps the even / odd lanes, so the four
// int32 vectors hold the channels in q64_channel order, as the table's kTpQ rows; y
// saturated by vpackssdw and a 16-bit clamp; the residual sign-extended to int16 and put in
// y's order by vpermw; (y, r) pairs by vpunpck{l,h}wd in the same order again; the add; the
// pwl (kPwl) on int32 lanes as tail16's; vpackssdw + vpacksswb saturate v to int8, vpshufb +
// vpermd restore channel order, one 64-byte store; the pack's 64 bits from one byte compare
// (kTpQPackT8, kTpQKeep). Per pixel
// about 55 vector instructions against about 80 for four tail16 (87 against 120 with a pwl).
struct Tail64 {
  __m512i lo, hi;      // composed clamp bounds (int16 lanes)
  __m512i m128, p127;  // int8 range (int16 lanes)
  __m512i ridx;        // vpermw: word 8L + k <- channel of y's word 8L + k (each 32-half)
  __m512i shuf;        // vpshufb: lane L's bytes -> channels 4L.., 16+4L.., 32+4L.., 48+4L..
  __m512i order;       // vpermd: back to channel order (as store_int8x64)
  explicit Tail64(const EpilogueWriter& w) {
    const auto c8 = [](int32_t v) {
      return static_cast<short>(v < -128 ? -128 : (v > 127 ? 127 : v));
    };
    lo = _mm512_set1_epi16(c8(w.ep.lo));
    hi = _mm512_set1_epi16(c8(w.ep.hi));
    m128 = _mm512_set1_epi16(-128);
    p127 = _mm512_set1_epi16(127);
    ridx = _mm512_set_epi16(31, 29, 15, 13, 30, 28, 14, 12, 27, 25, 11, 9, 26, 24, 10, 8,  //
                            23, 21, 7, 5, 22, 20, 6, 4, 19, 17, 3, 1, 18, 16, 2, 0);
    const __m128i s = _mm_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
    shuf = _mm512_broadcast_i32x4(s);
    order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  }
};

// q = clamp(K − 2·S) of a 64-channel block in 16-bit lanes (Tail64's bounds), S <= K <= 32767.
inline void q64(const Tail64& c, const __m512i (&acc)[4], int32_t k, __m512i (&q)[2]) {
  const __m512i k16 = _mm512_set1_epi16(static_cast<short>(k));
  for (int h = 0; h < 2; ++h) {
    const __m512i s = _mm512_packs_epi32(acc[2 * h], acc[2 * h + 1]);
    const __m512i d = _mm512_sub_epi16(_mm512_sub_epi16(k16, s), s);
    q[h] = _mm512_min_epi16(_mm512_max_epi16(d, c.lo), c.hi);
  }
}

// The K row of a pixel whose window crosses the padding (mode 'zero'), channels kr..kr+63, in
// q64's int16 lane order: packed as the sums are.
inline void k64_row(const int32_t* kr, __m512i (&k16)[2]) {
  for (int h = 0; h < 2; ++h) {
    k16[h] = _mm512_packs_epi32(load16(kr + 32 * h), load16(kr + 32 * h + 16));
  }
}

// q64 with a per-channel K (k64_row): K − 2·S by saturating subtractions, since S may count
// padded taps that the row's K leaves out (down to −2·32767); a result below −32768 saturates
// there and the clamp to Tail64's bounds (int8 range) that follows gives the exact value.
inline void q64(const Tail64& c, const __m512i (&acc)[4], const __m512i (&k16)[2],
                __m512i (&q)[2]) {
  for (int h = 0; h < 2; ++h) {
    const __m512i s = _mm512_packs_epi32(acc[2 * h], acc[2 * h + 1]);
    const __m512i d = _mm512_subs_epi16(_mm512_subs_epi16(k16[h], s), s);
    q[h] = _mm512_min_epi16(_mm512_max_epi16(d, c.lo), c.hi);
  }
}

// Four int32 vectors in q64_channel order saturated to int8 in channel order.
inline __m512i q64_bytes(const Tail64& c, const __m512i (&v)[4]) {
  const __m512i b =
      _mm512_packs_epi16(_mm512_packs_epi32(v[0], v[1]), _mm512_packs_epi32(v[2], v[3]));
  return _mm512_permutexvar_epi32(c.order, _mm512_shuffle_epi8(b, c.shuf));
}

// The int8 epilogue of one pixel's 64-channel block in 16-bit lanes (EpilogueWriter::int8_q64
// rows at pm, stride st), stored at y.
// K: a scalar (every tap inside the input) or k64_row's vectors (kh·kw·Cg <= 32767 either way).
template <class KT>
inline void int8_q64(const Tail64& c, const __m512i (&acc)[4], const KT& k, const int32_t* pm,
                     size_t st, int8_t* y) {
  __m512i q[2], r[4];
  q64(c, acc, k, q);
  for (int v = 0; v < 4; ++v) {
    const int32_t* p = pm + 16 * v;
    const __m512i mq = madd16_add(load16(p + st), q[v >> 1], load16(p));
    r[v] = _mm512_srav_epi32(mq, load16(p + 2 * st));
  }
  _mm512_storeu_si512(y, q64_bytes(c, r));
}

// tail64 of pixel `pix`, channels o0..o0+63 (o0 a multiple of 64), K = k: returns the pack's
// 64 bits (bit c: channel o0 + c below pack_t; 0 without a pack).
// K as in int8_q64.
template <bool kPwl, class KT>
inline uint64_t tail64(const TailRun& tr, const Tail64& c, const __m512i (&acc)[4], const KT& k,
                       size_t pix, int o0) {
  const int32_t* p = tr.params(o0);
  const auto param = [p](int v, TailParam t) {
    return load16(p + v * (16 * kTailParams) + 16 * t);
  };
  const size_t at = pix * tr.row + o0;
  __m512i q[2], y[4];
  q64(c, acc, k, q);
  for (int v = 0; v < 4; ++v) {
    const __m512i mq = madd16_add(param(v, kTpQOffset), q[v >> 1], param(v, kTpQMult));
    y[v] = _mm512_srav_epi32(mq, param(v, kTpQShift));
  }
  __m512i out[4];
  for (int h = 0; h < 2; ++h) {
    const __m512i y16 = _mm512_min_epi16(
        _mm512_max_epi16(_mm512_packs_epi32(y[2 * h], y[2 * h + 1]), c.m128), c.p127);
    const auto* rp = reinterpret_cast<const __m256i*>(tr.r + at + 32 * h);
    const __m512i r16 =
        _mm512_permutexvar_epi16(c.ridx, _mm512_cvtepi8_epi16(_mm256_loadu_si256(rp)));
    const __m512i u[2] = {_mm512_unpacklo_epi16(y16, r16), _mm512_unpackhi_epi16(y16, r16)};
    for (int e = 0; e < 2; ++e) {
      const int v = 2 * h + e;
      const __m512i t = madd16_add(param(v, kTpQBr), u[e], param(v, kTpQPairs));
      out[v] = _mm512_srav_epi32(t, param(v, kTpQS));
    }
  }
  if constexpr (kPwl) {
    for (int v = 0; v < 4; ++v) {
      const __m512i x = sat8(out[v]);
      const __mmask16 neg = _mm512_cmplt_epi32_mask(x, param(v, kTpQT));
      const __m512i m = _mm512_mask_blend_epi32(neg, param(v, kTpQMp), param(v, kTpQMn));
      const __m512i b = _mm512_mask_blend_epi32(neg, param(v, kTpQBp), param(v, kTpQBn));
      out[v] = _mm512_srav_epi32(madd16_add(b, x, m), param(v, kTpQPs));
    }
  }
  const __m512i v8 = q64_bytes(c, out);
  _mm512_storeu_si512(tr.out + at, v8);
  if (tr.bits == nullptr) return 0;
  uint64_t keep;
  std::memcpy(&keep, p + 16 * kTpQKeep, sizeof keep);
  const __m512i t8 = load16(p + 16 * kTpQPackT8);
  return ~static_cast<uint64_t>(_mm512_cmpgt_epi8_mask(v8, t8)) & keep;
}

// 16 channels o..o+15 of pixel `pix`, d already clamped (word/bit: see packed_slot; used
// only by kPacked).
template <EpilogueKind kKind>
inline void store16(const EpilogueWriter& w, __m512i d, size_t pix, int o, int word, int bit) {
  const Epilogue& e = w.ep;
  if constexpr (kKind == EpilogueKind::kInt32) {
    _mm512_storeu_si512(static_cast<int32_t*>(w.out) + pix * w.row_elems + o, d);
  } else if constexpr (kKind == EpilogueKind::kFloat) {
    // float32(d)·scale rounded, then + bias rounded — never a fused multiply-add (the empty
    // asm hides the product from contraction; the SIMDe build relies on fp-contract=off).
    __m512 prod = _mm512_mul_ps(_mm512_cvtepi32_ps(d), _mm512_loadu_ps(e.scale + o));
#if !defined(BNNFLOW_SIMDE_AVX512)
    __asm__("" : "+v"(prod));
#endif
    const __m512 y = _mm512_add_ps(prod, _mm512_loadu_ps(e.bias + o));
    _mm512_storeu_ps(static_cast<float*>(w.out) + pix * w.row_elems + o, y);
  } else if constexpr (kKind == EpilogueKind::kInt8) {
    const __m128i y = _mm512_cvtsepi32_epi8(requant16(w, d, o));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<int8_t*>(w.out) +
                                                pix * w.row_elems + o),
                     y);
  } else {
    const uint32_t bits = below_threshold(w, d, o);
    uint32_t* row = static_cast<uint32_t*>(w.out) + pix * w.row_elems;
    if (word >= 0) {
      row[word] |= bits << bit;
    } else {  // the 16 channels straddle a word or group boundary (rare): bit by bit
      for (int b = 0; b < 16; ++b) {
        if (!(bits >> b & 1u)) continue;
        const int gg = (o + b) / w.og_ch, cc = (o + b) % w.og_ch;
        row[gg * w.og_words + cc / 32] |= 1u << (cc % 32);
      }
    }
  }
}

// Packed outputs: the bits of consecutive 16-channel chunks of one pixel gather in a
// register, one OR per output word.
class PackedRow {
 public:
  explicit PackedRow(uint32_t* row) : row_(row) {}
  void add(int word, int bit, uint32_t bits) {
    if (word != word_) {
      flush();
      word_ = word;
      bits_ = 0;
    }
    bits_ |= bits << bit;
  }
  void flush() {
    if (word_ >= 0) row_[word_] |= bits_;
    word_ = -1;
  }

 private:
  uint32_t* row_;
  int word_ = -1;
  uint32_t bits_ = 0;
};

// d = K − 2·s, clamped to [lo, hi] when kClamp.
template <bool kClamp>
inline __m512i d16(__m512i s, __m512i kk, __m512i lo, __m512i hi) {
  const __m512i d = _mm512_sub_epi32(kk, _mm512_slli_epi32(s, 1));
  if constexpr (kClamp) return _mm512_min_epi32(_mm512_max_epi32(d, lo), hi);
  return d;
}

// One pixel's 16-channel chunk through the epilogue: d = K − 2·s, clamped when kClamp.
template <EpilogueKind kKind, bool kClamp>
inline void finish16(const EpilogueWriter& w, __m512i s, __m512i kk, size_t pix, int o,
                     int word, int bit, PackedRow* packed) {
  const __m512i d =
      d16<kClamp>(s, kk, _mm512_set1_epi32(w.ep.lo), _mm512_set1_epi32(w.ep.hi));
  if constexpr (kKind == EpilogueKind::kPacked) {
    if (word >= 0) {
      packed->add(word, bit, below_threshold(w, d, o));
      return;
    }
  }
  store16<kKind>(w, d, pix, o, word, bit);
}

}  // namespace bnnflow::BNNFLOW_AVX512_NS::ep
