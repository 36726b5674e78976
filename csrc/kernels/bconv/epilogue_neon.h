// NEON epilogue helpers shared by the NEON tile epilogue (bconv_epilogue_neon_16.cc) and the
// micro-kernels that finish their tiles in registers (bconv_neon_4x16.cc): one chunk of V
// int32x4 vectors (4·V output channels, V = 1, 2 or 4) per step. Include only from *_neon_*
// sources (native, or against SIMDe's portable NEON when BNNFLOW_SIMDE_NEON is defined).
#pragma once
#include <cstring>

#include "kernels/bconv/epilogue.h"
#include "kernels/common/isa_neon.h"

namespace bnnflow::BNNFLOW_NEON_NS::ep {

// Where the packed bits of the N channels o..o+N−1 go: word index in the pixel's row and bit
// offset, or word = -1 when they straddle a word or group boundary.
template <int N>
inline void packed_slot(const EpilogueWriter& w, int o, int* word, int* bit) {
  const int g = o / w.og_ch, oc = o % w.og_ch;
  const bool simple = oc + N <= w.og_ch && oc % 32 <= 32 - N;
  *word = simple ? g * w.og_words + oc / 32 : -1;
  *bit = oc % 32;
}

// Bit 4v+b set where channel o+4v+b is below its threshold (the sign of the next layer is -1):
// cmlt gives all-ones lanes, an and with the lane's bit weight and one addv gather them.
template <int V>
inline uint32_t below(const int32_t* threshold, const int32x4_t (&d)[V]) {
  const uint32_t weights[16] = {1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,
                                1u << 6,  1u << 7,  1u << 8,  1u << 9,  1u << 10, 1u << 11,
                                1u << 12, 1u << 13, 1u << 14, 1u << 15};
  uint32x4_t bits = vdupq_n_u32(0);
  for (int v = 0; v < V; ++v) {
    const uint32x4_t lt = vcltq_s32(d[v], vld1q_s32(threshold + 4 * v));
    bits = vorrq_u32(bits, vandq_u32(lt, vld1q_u32(weights + 4 * v)));
  }
  return vaddvq_u32(bits);
}
template <int V>
inline uint32_t below_threshold(const EpilogueWriter& w, const int32x4_t (&d)[V], int o) {
  return below<V>(w.ep.threshold + o, d);
}

// 4·V int16 lanes narrowed with saturation to int8 and stored at y.
template <int V>
inline void store_narrow(const int16x4_t (&h)[V], int8_t* y) {
  if constexpr (V == 4) {
    vst1q_s8(y, vcombine_s8(vqmovn_s16(vcombine_s16(h[0], h[1])),
                            vqmovn_s16(vcombine_s16(h[2], h[3]))));
  } else if constexpr (V == 2) {
    vst1_s8(y, vqmovn_s16(vcombine_s16(h[0], h[1])));
  } else {
    static_assert(V == 1, "chunks of 1, 2 or 4 vectors");
    const int8x8_t b = vqmovn_s16(vcombine_s16(h[0], h[0]));
    const int32_t four = vget_lane_s32(vreinterpret_s32_s8(b), 0);
    std::memcpy(y, &four, 4);
  }
}

// int8 requant before the final saturation: rshift_round(M·clamp(d, −128, 127) + B, s) in
// int32 lanes — exact only when EpilogueWriter::int8_fits_32 (callers check): M·q by mul with
// M sign-extended, one add of B + 2^(s−1) pre-summed per channel, sshl by −s (an arithmetic
// right shift).
inline int32x4_t requant4(const EpilogueWriter& w, int32x4_t d, int o) {
  const int32x4_t q = vminq_s32(vmaxq_s32(d, vdupq_n_s32(-128)), vdupq_n_s32(127));
  const int32x4_t mq = vmulq_s32(q, vmovl_s16(vld1_s16(w.ep.mult + o)));
  const int32x4_t val = vaddq_s32(mq, vld1q_s32(w.offset_round_data + o));
  return vshlq_s32(val, vnegq_s32(vld1q_s32(w.ep.shift + o)));
}

inline int32x4_t sat8(int32x4_t v) {
  return vminq_s32(vmaxq_s32(v, vdupq_n_s32(-128)), vdupq_n_s32(127));
}

// One call's residual tail state in locals (EpilogueWriter::enable_tail): the int8 stores may
// alias anything, so fields read through the writer would be reloaded after each of them.
struct TailRun {
  ResidualTail t;  // a copy: its pointers stay in registers
  const int16_t* mult;
  const int32_t* offset;
  const int32_t* shift;
  int8_t* out;
  size_t row, words;
  explicit TailRun(const EpilogueWriter& w)
      : t(*w.tail),
        mult(w.ep.mult),
        offset(w.offset_round_data),
        shift(w.ep.shift),
        out(static_cast<int8_t*>(w.out)),
        row(w.row_elems),
        words(w.tail_words) {}
  // The row of the pack's bits of pixel `pix` (null: no pack).
  uint32_t* bits_row(size_t pix) const { return t.bits != nullptr ? t.bits + pix * words : nullptr; }
};

// The residual tail (ResidualTail, bconv.h) of the 4·V channels o.. of pixel `pix` from the
// clamped d: requant, add (mla of y·My and r·Mr onto B + 2^(s−1)), pwl (multiplier and offset
// picked per lane), int8 store; returns the pack's bits (channel o+b below pack_t: bit b).
template <int V>
inline uint32_t tail(const TailRun& tr, const int32x4_t (&d)[V], size_t pix, int o) {
  const ResidualTail& t = tr.t;
  const size_t at = pix * tr.row + o;
  int32x4_t v[V];
  int16x4_t h[V];
  for (int j = 0; j < V; ++j) {
    const int c = o + 4 * j;
    const int32x4_t q = sat8(d[j]);
    const int32x4_t mq = vmlaq_s32(vld1q_s32(tr.offset + c), q, vmovl_s16(vld1_s16(tr.mult + c)));
    const int32x4_t y = sat8(vshlq_s32(mq, vnegq_s32(vld1q_s32(tr.shift + c))));
    uint32_t four;
    std::memcpy(&four, t.r + at + 4 * j, 4);
    const int32x4_t r =
        vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(four)))));
    int32x4_t a = vmlaq_s32(vld1q_s32(t.br + c), y, vld1q_s32(t.my + c));
    a = vmlaq_s32(a, r, vld1q_s32(t.mr + c));
    a = sat8(vshlq_s32(a, vnegq_s32(vld1q_s32(t.s + c))));
    if (t.pwl) {
      const uint32x4_t neg = vcltq_s32(a, vld1q_s32(t.t + c));
      const int32x4_t m = vbslq_s32(neg, vld1q_s32(t.mn + c), vld1q_s32(t.mp + c));
      const int32x4_t b = vbslq_s32(neg, vld1q_s32(t.bn + c), vld1q_s32(t.bp + c));
      a = sat8(vshlq_s32(vmlaq_s32(b, a, m), vnegq_s32(vld1q_s32(t.ps + c))));
    }
    v[j] = a;
    h[j] = vmovn_s32(a);
  }
  store_narrow<V>(h, tr.out + at);
  return t.bits != nullptr ? below<V>(t.pack_t + o, v) : 0u;
}

// int8: saturate(rshift_round(M·clamp(d, −128, 127) + B, s)) in int32 lanes — exact only when
// EpilogueWriter::int8_fits_32 (callers check): M·q by mul with M sign-extended, one add of
// B + 2^(s−1) pre-summed per channel, sshl by −s (an arithmetic right shift), then two
// saturating narrows (sqxtn) to [−128, 127].
template <int V>
inline void store_int8(const EpilogueWriter& w, const int32x4_t (&d)[V], int8_t* y, int o) {
  int16x4_t h[V];
  for (int v = 0; v < V; ++v) h[v] = vqmovn_s32(requant4(w, d[v], o + 4 * v));
  store_narrow<V>(h, y);
}

// The 4·V channels o.. of pixel `pix`, d already clamped (word/bit: see packed_slot; used
// only by kPacked).
template <int V, EpilogueKind kKind>
inline void store(const EpilogueWriter& w, const int32x4_t (&d)[V], size_t pix, int o,
                  int word, int bit) {
  const Epilogue& e = w.ep;
  if constexpr (kKind == EpilogueKind::kInt32) {
    int32_t* y = static_cast<int32_t*>(w.out) + pix * w.row_elems + o;
    for (int v = 0; v < V; ++v) vst1q_s32(y + 4 * v, d[v]);
  } else if constexpr (kKind == EpilogueKind::kFloat) {
    // float32(d)·scale rounded, then + bias rounded — never a fused multiply-add (the empty
    // asm hides the product from contraction; the SIMDe build relies on fp-contract=off).
    float* y = static_cast<float*>(w.out) + pix * w.row_elems + o;
    for (int v = 0; v < V; ++v) {
      float32x4_t prod = vmulq_f32(vcvtq_f32_s32(d[v]), vld1q_f32(e.scale + o + 4 * v));
#if !defined(BNNFLOW_SIMDE_NEON)
      __asm__("" : "+w"(prod));
#endif
      vst1q_f32(y + 4 * v, vaddq_f32(prod, vld1q_f32(e.bias + o + 4 * v)));
    }
  } else if constexpr (kKind == EpilogueKind::kInt8) {
    store_int8<V>(w, d, static_cast<int8_t*>(w.out) + pix * w.row_elems + o, o);
  } else {
    const uint32_t bits = below_threshold<V>(w, d, o);
    uint32_t* row = static_cast<uint32_t*>(w.out) + pix * w.row_elems;
    if (word >= 0) {
      row[word] |= bits << bit;
    } else {  // the channels straddle a word or group boundary (rare): bit by bit
      for (int b = 0; b < 4 * V; ++b) {
        if (!(bits >> b & 1u)) continue;
        const int gg = (o + b) / w.og_ch, cc = (o + b) % w.og_ch;
        row[gg * w.og_words + cc / 32] |= 1u << (cc % 32);
      }
    }
  }
}

// Packed outputs: the bits of consecutive chunks of one pixel gather in a register, one OR
// per output word.
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

// One pixel's chunk of 4·V channels o.. through the epilogue: d = K − 2·s with K = krow[o..]
// when krow is not null, else k; clamped when kClamp.
template <int V, EpilogueKind kKind, bool kClamp>
inline void finish(const EpilogueWriter& w, const int32x4_t (&s)[V], int32_t k,
                   const int32_t* krow, size_t pix, int o, int word, int bit,
                   PackedRow* packed) {
  int32x4_t d[V];
  for (int v = 0; v < V; ++v) {
    const int32x4_t kk = krow ? vld1q_s32(krow + o + 4 * v) : vdupq_n_s32(k);
    d[v] = vsubq_s32(kk, vshlq_n_s32(s[v], 1));
    if constexpr (kClamp) {
      d[v] = vminq_s32(vmaxq_s32(d[v], vdupq_n_s32(w.ep.lo)), vdupq_n_s32(w.ep.hi));
    }
  }
  if constexpr (kKind == EpilogueKind::kPacked) {
    if (word >= 0) {
      packed->add(word, bit, below_threshold<V>(w, d, o));
      return;
    }
  }
  store<V, kKind>(w, d, pix, o, word, bit);
}

// One pixel's chunk of 4·V channels o.. through the residual tail: d = K − 2·s (K = krow[o..]
// when krow is not null, else k), clamped to [lo, hi] when kClamp; the pack's bits into
// `packed` (the pixel's bits_row) when there is a pack.
template <int V, bool kClamp>
inline void finish_tail(const TailRun& tr, int32x4_t lo, int32x4_t hi, const int32x4_t (&s)[V],
                        int32_t k, const int32_t* krow, size_t pix, int o, int word, int bit,
                        PackedRow* packed) {
  int32x4_t d[V];
  for (int v = 0; v < V; ++v) {
    const int32x4_t kk = krow ? vld1q_s32(krow + o + 4 * v) : vdupq_n_s32(k);
    d[v] = vsubq_s32(kk, vshlq_n_s32(s[v], 1));
    if constexpr (kClamp) d[v] = vminq_s32(vmaxq_s32(d[v], lo), hi);
  }
  const uint32_t bits = tail<V>(tr, d, pix, o);
  if (tr.t.bits != nullptr) packed->add(word, bit, bits);
}

}  // namespace bnnflow::BNNFLOW_NEON_NS::ep
