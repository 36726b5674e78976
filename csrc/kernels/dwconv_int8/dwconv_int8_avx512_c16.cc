// AVX-512 (F/BW) dwconv2d_int8: 16 output channels per zmm = the AVX2 kernel's 8-blocks 2k and
// 2k+1 side by side (see dwconv_int8_plan.h). Per tap pair: four vpbroadcastq loads, two
// vpblendd, vinserti64x4, [vpxorq 0x80 for int8 input], vpshufb, vpmaddwd, vpaddd; channel tails
// by masked stores. Threads split over batch x output rows. With a fused prepared requant32
// (dwconv2d_int8.h) the accumulators are requantised in the register (requant32_avx512_lanes.h)
// and narrowed by vpmovsdb: 16 int8 per block, no int32 row.
#include "kernels/common/isa_avx512.h"
#include "kernels/dwconv_int8/dwconv_int8_plan.h"
#include "kernels/requant/requant32_avx512_lanes.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

using bnnflow::BNNFLOW_AVX512_NS::madd16;  // vpmaddwd (common/isa_avx512.h)

// Taps 2q, 2q+1 of one 8-block at channel c0: (8 bytes tap 2q, 8 bytes tap 2q+1) per 128 bits.
inline __m256i dw_pair_bytes(const std::uint8_t* t0, const std::uint8_t* t1, std::size_t nb) {
  return _mm256_blend_epi32(_mm256_set1_epi64x(static_cast<long long>(dwc::load8(t0, nb))),
                            _mm256_set1_epi64x(static_cast<long long>(dwc::load8(t1, nb))), 0xCC);
}

// The accumulators of 16-channel block k (8-blocks 2k, 2k+1) of one output pixel.
template <bool kSigned, bool kFull, int kNP>
inline __m512i dw_acc16(const dwc::Plan& p, const std::uint8_t* const* tp, std::size_t k) {
  const std::size_t b = 2 * k;
  const std::size_t ca = p.c0.data()[b], cb = p.c0.data()[b + 1];
  const std::size_t nb = kFull ? 8 : p.nbytes.data()[b];
  const __m512i mask = _mm512_loadu_si512(p.masks.data() + b * 32);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc = _mm512_loadu_si512(p.bias2.data() + b * 8);
  const std::size_t np = kNP > 0 ? static_cast<std::size_t>(kNP) : p.npairs;  // 5 for 3x3
  for (std::size_t q = 0; q < np; ++q) {
    const std::uint8_t* t0 = tp[2 * q];
    const std::uint8_t* t1 = tp[2 * q + 1];
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(dw_pair_bytes(t0 + ca, t1 + ca, nb)),
                                   dw_pair_bytes(t0 + cb, t1 + cb, nb), 1);
    if constexpr (kSigned) v = _mm512_xor_si512(v, flip);
    v = _mm512_shuffle_epi8(v, mask);
    acc = _mm512_add_epi32(acc, madd16(v, _mm512_loadu_si512(p.wpk.data() + p.weight_index(b, q))));
  }
  return acc;
}

// 16 input bytes as int32 lanes, sign-extended (int8 input) or zero-extended (uint8: the
// sign extension masked to 8 bits; SIMDe 0.7 has no _mm512_cvtepu8_epi32).
template <bool kSigned>
inline __m512i dw_widen16(const std::uint8_t* p) {
  const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  if constexpr (kSigned) return v;
  return _mm512_and_si512(v, _mm512_set1_epi32(0xFF));
}

// Direct layout (Plan::direct: m = 1, C a multiple of 16): the accumulators of channels
// 16k..16k+15, one vpmovsxbd load (and a mask for uint8 input), vpmaddwd and vpaddd per tap
// (the pair layout spends two broadcasts, a blend, an insert and a shuffle per tap pair and
// block).
template <bool kSigned, int kTaps>
inline __m512i dw_direct16(const dwc::Plan& p, const std::uint8_t* const* tp, std::size_t k) {
  const std::size_t c = 16 * k, taps = kTaps > 0 ? static_cast<std::size_t>(kTaps) : p.taps;
  const std::int32_t* w = p.wtap.data() + c;
  __m512i acc = _mm512_loadu_si512(p.bias_d.data() + c);
  for (std::size_t t = 0; t < taps; ++t) {
    acc = _mm512_add_epi32(acc, madd16(dw_widen16<kSigned>(tp[t] + c), _mm512_loadu_si512(w + t * p.Co)));
  }
  return acc;
}

template <bool kSigned>
inline __m512i dw_block16(const dwc::Plan& p, const std::uint8_t* const* tp, std::size_t k) {
  return p.taps == 9 ? dw_direct16<kSigned, 9>(p, tp, k) : dw_direct16<kSigned, 0>(p, tp, k);
}

// One output pixel: the 16-channel blocks (pairs of 8-blocks, see dwconv_int8_plan.h), int32
// out (run) or requantised in the register, int8 out (run8; channels 16k.. of the prepared
// requant32, h = 8k its int64 tables' index).
struct Pixel {
  static constexpr bool kInTile = true;
  static constexpr bool kDirect = true;  // m = 1, C % 16 == 0: dw_direct16
  static constexpr bool kPair16 = false;  // the direct layout's (w, 0) lanes only

  template <bool kSigned, bool kFull, int kNP>
  static void run(const dwc::Plan& p, const std::uint8_t* const* tp, std::int32_t* y) {
    if (p.direct) {
      for (std::size_t k = 0; k < p.Co / 16; ++k) _mm512_storeu_si512(y + 16 * k, dw_block16<kSigned>(p, tp, k));
      return;
    }
    for (std::size_t k = 0; k < p.nblk2 / 2; ++k) {
      const __m512i acc = dw_acc16<kSigned, kFull, kNP>(p, tp, k);
      const std::size_t left = p.Co - 16 * k;
      if (left >= 16) {
        _mm512_storeu_si512(y + 16 * k, acc);
      } else {
        _mm512_mask_storeu_epi32(y + 16 * k, static_cast<__mmask16>((1u << left) - 1u), acc);
      }
    }
  }

  // An inner pixel of a 3x3 direct-layout row (dwc::direct3x3_rows): tap (kh, kw) of channels
  // c.. at rows[kh] + kw*C + c; int32 out to y32 or, kFused, requantised (form kMode) to y8.
  template <bool kSigned, bool kFused, Rq32Mode kMode>
  static void inner3x3(const dwc::Plan& p, const std::uint8_t* r0, const std::uint8_t* r1,
                       const std::uint8_t* r2, std::size_t C, const PreparedRequant32& rq,
                       std::int32_t* y32, std::int8_t* y8) {
    const std::int32_t* const w = p.wtap.data();
    for (std::size_t c = 0; c < C; c += 16) {
      const std::uint8_t* const tp[9] = {r0 + c, r0 + C + c, r0 + 2 * C + c,
                                         r1 + c, r1 + C + c, r1 + 2 * C + c,
                                         r2 + c, r2 + C + c, r2 + 2 * C + c};
      __m512i acc = _mm512_loadu_si512(p.bias_d.data() + c);
      for (std::size_t t = 0; t < 9; ++t) {
        acc = _mm512_add_epi32(acc, madd16(dw_widen16<kSigned>(tp[t]), _mm512_loadu_si512(w + t * C + c)));
      }
      if constexpr (kFused) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + c),
                         _mm512_cvtsepi32_epi8(rq32p_apply<kMode>(acc, rq, c, c / 2)));
      } else {
        _mm512_storeu_si512(y32 + c, acc);
      }
    }
  }

  template <bool kSigned, bool kFull, int kNP, Rq32Mode kMode>
  static void run8(const dwc::Plan& p, const std::uint8_t* const* tp, const PreparedRequant32& rq,
                   std::int8_t* y8) {
    if (p.direct) {
      for (std::size_t k = 0; k < p.Co / 16; ++k) {
        const __m512i acc = dw_block16<kSigned>(p, tp, k);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + 16 * k),
                         _mm512_cvtsepi32_epi8(rq32p_apply<kMode>(acc, rq, 16 * k, 8 * k)));
      }
      return;
    }
    for (std::size_t k = 0; k < p.nblk2 / 2; ++k) {
      const __m512i acc = dw_acc16<kSigned, kFull, kNP>(p, tp, k);
      const __m128i b = _mm512_cvtsepi32_epi8(rq32p_apply<kMode>(acc, rq, 16 * k, 8 * k));
      const std::size_t left = p.Co - 16 * k;
      if (left >= 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + 16 * k), b);
      } else {
        alignas(16) std::int8_t tail[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tail), b);
        std::memcpy(y8 + 16 * k, tail, left);
      }
    }
  }
};

}  // namespace

bool dwconv2d_int8_requant_in_tile(const DwConv2dInt8Args& a) { return dwc::in_tile<Pixel>(a); }

void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool) { dwc::run<Pixel>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
