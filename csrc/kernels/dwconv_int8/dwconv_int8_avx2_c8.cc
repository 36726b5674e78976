// AVX2 dwconv2d_int8: 8 output channels per ymm, tap pairs through vpmaddwd (see
// dwconv_int8_plan.h). Per tap pair and 8 channels: two vpbroadcastq loads, vpblendd (tap 2p in
// the low, tap 2p+1 in the high qword of each 128-bit half), [vpxor 0x80 for int8 input],
// vpshufb (channel-multiplier expansion, interleave, zero-extension to int16), vpmaddwd, vpaddd.
// Threads split over batch x output rows. With a fused prepared requant32 (dwconv2d_int8.h)
// the accumulators are requantised in the register (requant32_avx2_lanes.h) and narrowed by
// saturating packs: int8 out, no int32 row. With multiplier 1 and C a multiple of 16 the direct
// layout instead, in int16 tap pairs (dwconv_int8_plan.h, Plan::wp16: per 2 taps and 16
// channels 2 vpmovsxbw / vpmovzxbw, 2 unpacks, 2 vpmaddwd, 2 vpaddd; 3x3 rows off three row
// pointers, dwc::direct3x3_rows).
#include <immintrin.h>

#include "kernels/dwconv_int8/dwconv_int8_plan.h"
#include "kernels/requant/requant32_avx2_lanes.h"

namespace bnnflow::glue::avx2 {
namespace {

// Taps 2q, 2q+1 at channel c0 as (8 bytes tap 2q, 8 bytes tap 2q+1) in each 128-bit half.
template <bool kSigned, bool kFull>
inline __m256i dw_pair_bytes(const std::uint8_t* t0, const std::uint8_t* t1, std::size_t nb) {
  __m256i v = _mm256_blend_epi32(
      _mm256_set1_epi64x(static_cast<long long>(dwc::load8(t0, kFull ? 8 : nb))),
      _mm256_set1_epi64x(static_cast<long long>(dwc::load8(t1, kFull ? 8 : nb))), 0xCC);
  if constexpr (kSigned) v = _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)));
  return v;
}

inline __m256i dw_mask(const dwc::Plan& p, std::size_t b) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.masks.data() + b * 32));
}
inline __m256i dw_weights(const dwc::Plan& p, std::size_t b, std::size_t q) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.wpk.data() + p.weight_index(b, q)));
}
inline __m256i dw_bias(const dwc::Plan& p, std::size_t b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.bias2.data() + b * 8));
}

inline void dw_store(const dwc::Plan& p, std::size_t b, std::int32_t* y, __m256i acc) {
  const std::size_t left = p.Co - 8 * b;
  if (left >= 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 8 * b), acc);
  } else {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), lanes);
    _mm256_maskstore_epi32(y + 8 * b, keep, acc);
  }
}

// The int32 output of 8-blocks b (and b + 1 when kTwo: 16 channels from 8b).
struct Int32Out {
  std::int32_t* y;
  template <bool kTwo>
  void store(const dwc::Plan& p, std::size_t b, __m256i acca, __m256i accb) const {
    dw_store(p, b, y, acca);
    if constexpr (kTwo) dw_store(p, b + 1, y, accb);
  }
};

// The int8 output through the fused requant32 of form kMode: the blocks' accumulators
// requantised in the register, saturating packs int32 -> int16 -> int8 (per 128-bit half:
// channels 8b..8b+3, 8b+8..; a dword permute puts the 16 bytes in channel order).
template <Rq32Mode kMode>
struct Int8Out {
  const PreparedRequant32& rq;
  std::int8_t* y8;
  template <bool kTwo>
  void store(const dwc::Plan& p, std::size_t b, __m256i acca, __m256i accb) const {
    const std::size_t c = 8 * b;
    const __m256i ra = rq32p_apply<kMode>(acca, rq, c, c / 2);
    const __m256i rb = kTwo ? rq32p_apply<kMode>(accb, rq, c + 8, c / 2 + 4) : ra;
    const __m256i w = _mm256_packs_epi32(ra, rb);
    const __m256i v = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w, w),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    const std::size_t left = p.Co - c, n = kTwo ? 16 : 8;
    if (left >= n && kTwo) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + c), _mm256_castsi256_si128(v));
    } else if (left >= n) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y8 + c), _mm256_castsi256_si128(v));
    } else {
      alignas(16) std::int8_t tail[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tail), _mm256_castsi256_si128(v));
      std::memcpy(y8 + c, tail, left < n ? left : n);
    }
  }
};

// One output pixel, all channel blocks (two 8-blocks per step share the tap pointers) into
// `out` (Int32Out or Int8Out); kNP is the number of tap pairs when fixed at compile time (5 for
// 3x3), else 0 (p.npairs).
template <bool kSigned, bool kFull, int kNP, class Out>
void dw_pixel(const dwc::Plan& p, const std::uint8_t* const* tp, const Out& out) {
  const std::size_t np = kNP > 0 ? static_cast<std::size_t>(kNP) : p.npairs;
  const std::size_t nb = p.nbytes.data()[0];
  std::size_t b = 0;
  for (; b + 2 <= p.nblk; b += 2) {
    const std::size_t ca = p.c0.data()[b], cb = p.c0.data()[b + 1];
    const __m256i ma = dw_mask(p, b), mb = dw_mask(p, b + 1);
    __m256i acca = dw_bias(p, b), accb = dw_bias(p, b + 1);
    for (std::size_t q = 0; q < np; ++q) {
      const std::uint8_t* t0 = tp[2 * q];
      const std::uint8_t* t1 = tp[2 * q + 1];
      const __m256i va = _mm256_shuffle_epi8(dw_pair_bytes<kSigned, kFull>(t0 + ca, t1 + ca, nb), ma);
      const __m256i vb = _mm256_shuffle_epi8(dw_pair_bytes<kSigned, kFull>(t0 + cb, t1 + cb, nb), mb);
      acca = _mm256_add_epi32(acca, _mm256_madd_epi16(va, dw_weights(p, b, q)));
      accb = _mm256_add_epi32(accb, _mm256_madd_epi16(vb, dw_weights(p, b + 1, q)));
    }
    out.template store<true>(p, b, acca, accb);
  }
  if (b < p.nblk) {
    const std::size_t ca = p.c0.data()[b];
    const __m256i ma = dw_mask(p, b);
    __m256i acc = dw_bias(p, b);
    for (std::size_t q = 0; q < np; ++q) {
      const __m256i v = _mm256_shuffle_epi8(dw_pair_bytes<kSigned, kFull>(tp[2 * q] + ca, tp[2 * q + 1] + ca, nb), ma);
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, dw_weights(p, b, q)));
    }
    out.template store<false>(p, b, acc, acc);
  }
}

// Channels c..c+15 of one pixel from the direct layout's int16 tap pairs (Plan::wp16): per
// pair of taps their 16 bytes sign- or zero-extended to int16 (vpmovsxbw / vpmovzxbw), the
// pairs (x[2q], x[2q+1]) per channel by vpunpcklwd (channels 0-3, 8-11) and vpunpckhwd (4-7,
// 12-15), one vpmaddwd against (w[2q], w[2q+1]) each: 32 MACs per 2 vpmaddwd instead of 4,
// per pair 10 ops instead of 16. An odd last tap pairs with itself against weight 0. Each
// pair sum is exact (|x| <= 255, |w| <= 128), int32 sums wrap like the scalar twin's; two
// vperm2i128 put the accumulators back in channel order before the bias and the store.
template <bool kSigned, std::size_t kTaps, class Out>
inline void dw_pair16(const dwc::Plan& p, const std::uint8_t* const* tp, std::size_t c, const Out& out) {
  const std::size_t taps = kTaps > 0 ? kTaps : p.taps, np = (taps + 1) / 2;
  const std::int16_t* w = p.wp16.data() + (c / 16) * np * 32;
  const auto ld = [&](std::size_t t) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tp[t] + c));
    return kSigned ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
  };
  __m256i acca = _mm256_setzero_si256(), accb = _mm256_setzero_si256();
  for (std::size_t q = 0; q < np; ++q, w += 32) {
    const __m256i x0 = ld(2 * q), x1 = 2 * q + 1 < taps ? ld(2 * q + 1) : x0;
    const __m256i wa = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i wb = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 16));
    acca = _mm256_add_epi32(acca, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), wa));
    accb = _mm256_add_epi32(accb, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), wb));
  }
  const std::int32_t* bias = p.bias_d.data() + c;
  const __m256i lo = _mm256_add_epi32(_mm256_permute2x128_si256(acca, accb, 0x20),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias)));
  const __m256i hi = _mm256_add_epi32(_mm256_permute2x128_si256(acca, accb, 0x31),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 8)));
  out.template store<true>(p, c / 8, lo, hi);
}

template <bool kSigned, class Out>
void dw_direct_pixel(const dwc::Plan& p, const std::uint8_t* const* tp, const Out& out) {
  for (std::size_t c = 0; c < p.Co; c += 16) {
    if (p.taps == 9) {
      dw_pair16<kSigned, 9>(p, tp, c, out);
    } else {
      dw_pair16<kSigned, 0>(p, tp, c, out);
    }
  }
}

struct Pixel {
  static constexpr bool kInTile = true;
  static constexpr bool kDirect = true;  // m = 1, C % 16 == 0: dw_pair16
  static constexpr bool kPair16 = true;  // its int16 tap pairs (Plan::wp16)

  template <bool kSigned, bool kFull, int kNP>
  static void run(const dwc::Plan& p, const std::uint8_t* const* tp, std::int32_t* y) {
    if (p.direct) return dw_direct_pixel<kSigned>(p, tp, Int32Out{y});
    dw_pixel<kSigned, kFull, kNP>(p, tp, Int32Out{y});
  }

  template <bool kSigned, bool kFull, int kNP, Rq32Mode kMode>
  static void run8(const dwc::Plan& p, const std::uint8_t* const* tp, const PreparedRequant32& rq,
                   std::int8_t* y8) {
    if (p.direct) return dw_direct_pixel<kSigned>(p, tp, Int8Out<kMode>{rq, y8});
    dw_pixel<kSigned, kFull, kNP>(p, tp, Int8Out<kMode>{rq, y8});
  }

  // An inner pixel of a 3x3 direct-layout row (dwc::direct3x3_rows): tap (kh, kw) of channels
  // c.. at rows[kh] + kw*C + c.
  template <bool kSigned, bool kFused, Rq32Mode kMode>
  static void inner3x3(const dwc::Plan& p, const std::uint8_t* r0, const std::uint8_t* r1,
                       const std::uint8_t* r2, std::size_t C, const PreparedRequant32& rq,
                       std::int32_t* y32, std::int8_t* y8) {
    const std::uint8_t* const tp[9] = {r0, r0 + C, r0 + 2 * C, r1, r1 + C, r1 + 2 * C,
                                       r2, r2 + C, r2 + 2 * C};
    for (std::size_t c = 0; c < C; c += 16) {
      if constexpr (kFused) {
        dw_pair16<kSigned, 9>(p, tp, c, Int8Out<kMode>{rq, y8});
      } else {
        dw_pair16<kSigned, 9>(p, tp, c, Int32Out{y32});
      }
    }
  }
};

}  // namespace

bool dwconv2d_int8_requant_in_tile(const DwConv2dInt8Args& a) { return dwc::in_tile<Pixel>(a); }

void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool) { dwc::run<Pixel>(a, pool); }

}  // namespace bnnflow::glue::avx2
