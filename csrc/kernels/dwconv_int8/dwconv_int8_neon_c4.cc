// NEON dwconv2d_int8 (AArch64; the file keeps its _c4 name, which the C++ tests include): blocks of 8 output channels (two int32x4 halves of 4 channels)
// in the layout of dwconv_int8_plan.h. Per tap pair and 8 channels: two 8-byte loads into one
// q register (tap 2p low, tap 2p+1 high), [eor 0x80 for int8 input], two tbl (channel-multiplier
// expansion, interleave, zero-extension to int16 pairs; index 0x80 gives 0), four
// vmlal(_high)_s16 into accumulators that hold (tap 2p, tap 2p+1) products side by side; one
// vpaddq per 4 channels at the end adds the pair halves. Threads split over batch x output rows.
// With a fused prepared requant32 (dwconv2d_int8.h) the two halves are requantised in the
// register (requant32_neon_lanes.h) and narrowed by vqmovn: 8 int8 per block, no int32 row.
#include "kernels/common/isa_neon.h"
#include "kernels/dwconv_int8/dwconv_int8_plan.h"
#include "kernels/requant/requant32_neon_lanes.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {
namespace {

// The accumulators of 8-block b of one output pixel: channels 8b..8b+3 in r0, 8b+4.. in r1.
template <bool kSigned, bool kFull, int kNP>
inline void dw_acc8(const dwc::Plan& p, const std::uint8_t* const* tp, std::size_t b, int32x4_t* r0,
                    int32x4_t* r1) {
  const std::size_t c0 = p.c0.data()[b];
  const std::size_t nb = kFull ? 8 : p.nbytes.data()[b];
  const uint8x16_t mlo = vld1q_u8(p.masks.data() + b * 32);
  const uint8x16_t mhi = vld1q_u8(p.masks.data() + b * 32 + 16);
  int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
  const std::size_t np = kNP > 0 ? static_cast<std::size_t>(kNP) : p.npairs;  // 5 for 3x3
  for (std::size_t q = 0; q < np; ++q) {
    uint8x16_t src = vcombine_u8(vcreate_u8(dwc::load8(tp[2 * q] + c0, nb)),
                                 vcreate_u8(dwc::load8(tp[2 * q + 1] + c0, nb)));
    if constexpr (kSigned) src = veorq_u8(src, vdupq_n_u8(0x80));
    const int16x8_t lo = vreinterpretq_s16_u8(vqtbl1q_u8(src, mlo));
    const int16x8_t hi = vreinterpretq_s16_u8(vqtbl1q_u8(src, mhi));
    const std::int16_t* w = reinterpret_cast<const std::int16_t*>(p.wpk.data() + p.weight_index(b, q));
    const int16x8_t wlo = vld1q_s16(w), whi = vld1q_s16(w + 8);
    a0 = vmlal_s16(a0, vget_low_s16(lo), vget_low_s16(wlo));
    a1 = vmlal_high_s16(a1, lo, wlo);
    a2 = vmlal_s16(a2, vget_low_s16(hi), vget_low_s16(whi));
    a3 = vmlal_high_s16(a3, hi, whi);
  }
  *r0 = vaddq_s32(vld1q_s32(p.bias2.data() + 8 * b), vpaddq_s32(a0, a1));
  *r1 = vaddq_s32(vld1q_s32(p.bias2.data() + 8 * b + 4), vpaddq_s32(a2, a3));
}

// One output pixel: its 8-channel blocks, int32 out (run) or requantised in the register and
// narrowed, int8 out (run8).
struct Pixel {
  static constexpr bool kInTile = true;
  static constexpr bool kDirect = false;  // the pair layout only
  static constexpr bool kPair16 = false;

  template <bool kSigned, bool kFull, int kNP>
  static void run(const dwc::Plan& p, const std::uint8_t* const* tp, std::int32_t* y) {
    for (std::size_t b = 0; b < p.nblk; ++b) {
      int32x4_t r0, r1;
      dw_acc8<kSigned, kFull, kNP>(p, tp, b, &r0, &r1);
      const std::size_t left = p.Co - 8 * b;
      if (left >= 8) {
        vst1q_s32(y + 8 * b, r0);
        vst1q_s32(y + 8 * b + 4, r1);
      } else {
        std::int32_t tmp[8];
        vst1q_s32(tmp, r0);
        vst1q_s32(tmp + 4, r1);
        std::memcpy(y + 8 * b, tmp, left * sizeof(std::int32_t));
      }
    }
  }

  template <bool kSigned, bool kFull, int kNP, Rq32Mode kMode>
  static void run8(const dwc::Plan& p, const std::uint8_t* const* tp, const PreparedRequant32& rq,
                   std::int8_t* y8) {
    for (std::size_t b = 0; b < p.nblk; ++b) {
      int32x4_t r0, r1;
      dw_acc8<kSigned, kFull, kNP>(p, tp, b, &r0, &r1);
      const int16x8_t h = vcombine_s16(vqmovn_s32(rq32p_apply<kMode>(r0, rq, 8 * b)),
                                       vqmovn_s32(rq32p_apply<kMode>(r1, rq, 8 * b + 4)));
      const int8x8_t v = vqmovn_s16(h);
      const std::size_t left = p.Co - 8 * b;
      if (left >= 8) {
        vst1_s8(y8 + 8 * b, v);
      } else {
        std::int8_t tmp[8];
        vst1_s8(tmp, v);
        std::memcpy(y8 + 8 * b, tmp, left);
      }
    }
  }
};

}  // namespace

bool dwconv2d_int8_requant_in_tile(const DwConv2dInt8Args& a) { return dwc::in_tile<Pixel>(a); }

void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool) { dwc::run<Pixel>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
