// Per-call preparation shared by the SIMD dwconv2d_int8 kernels (AVX2, AVX-512, NEON).
//
// Channels go across lanes in blocks of 8 output channels; output channel o = c*m + j reads
// input channel c straight from the NHWC input (no per-multiplier copy): a block's 8 lanes read
// input bytes c0 .. c0+7 with c0 = min(8b / m, C - 8), and a byte shuffle (pshufb / tbl) maps them to lanes.
// Taps go in pairs: one 16-byte source (8 bytes of tap 2p, 8 bytes of tap 2p+1 at channel c0)
// is shuffled into int16 pairs (x_{2p}[c], x_{2p+1}[c]) per int32 lane, zero-extended, and
// multiplied with packed int16 weight pairs (vpmaddwd, or vmlal + a final pairwise add on NEON).
//
// Zero point: the kernels sum raw bytes u = x + off (off = 128 for int8 input, applied as a
// xor 0x80; 0 for uint8) over ALL taps, and fold the constant into the bias:
//   bias2[o] = bias[o] - sum_t w[o,t] * (zp[c] + off).
// A padded tap reads the "zp pixel" (bytes zp[c], i.e. u = zp[c] + off), so it contributes
// w*(zp+off) - w*(zp+off) = 0, as docs/numerics.md §5 requires. All sums are int32 modulo 2^32
// (exact products: |u| <= 255, |w| <= 128, a pair sum fits int32), so the result equals the
// scalar twin bit for bit whatever the summation order.
#pragma once
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {
namespace {
namespace dwc {

// Shapes, packed weights, shuffle masks and folded bias of one dwconv2d_int8 call: the pair
// layout above, or (direct_ok, the ISA's Pixel::kDirect, m = 1 and C a multiple of 16) the
// direct layout instead (per tap and channel one int32 lane (w, 0): see wtap), and with
// pair16_ok (the ISA's Pixel::kPair16) also the direct layout's tap pairs in int16 (wp16).
class Plan {
 public:
  Plan(const DwConv2dInt8Args& a, bool direct_ok, bool pair16_ok = false)
      : Ho(out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom)),
        Wo(out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right)),
        Co(a.C * a.mult),
        taps(static_cast<std::size_t>(a.KH) * static_cast<std::size_t>(a.KW)),
        npairs((taps + 1) / 2),
        nblk((Co + 7) / 8),
        nblk2((nblk + 1) / 2 * 2),
        direct(direct_ok && a.mult == 1 && a.C % 16 == 0),
        masks(direct ? 0 : nblk2 * 32),
        wpk(direct ? 0 : nblk2 * npairs * 8),
        bias2(direct ? 0 : nblk2 * 8),
        c0(direct ? 0 : nblk2),
        nbytes(direct ? 0 : nblk2),
        zpix(a.C + 16),
        wtap(direct ? taps * Co : 0),
        bias_d(direct ? Co : 0),
        wp16(direct && pair16_ok ? Co * npairs * 2 : 0) {
    for (std::size_t c = 0; c < a.C; ++c) zpix[c] = static_cast<std::uint8_t>(a.zp[c]);
    if (direct) {
      fill_direct(a);
    } else {
      fill_pairs(a);
    }
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Offset of the 8 packed weight pairs of 8-block b, tap pair p: layout [b/2][p][b%2][8], so
  // 8-blocks 2k and 2k+1 are one contiguous 16-lane vector for AVX-512.
  std::size_t weight_index(std::size_t b, std::size_t p) const {
    return ((b / 2) * npairs + p) * 16 + (b % 2) * 8;
  }

  const std::size_t Ho, Wo, Co, taps, npairs, nblk, nblk2;
  // Direct layout (m = 1, C a multiple of 16, where the ISA asked for it): per tap t and
  // channel o the int32 lane (w[o,t] as int16, 0), so that vpmaddwd of a lane holding the
  // input byte sign- or zero-extended (its high int16 0 or -1) gives w * x exactly; bias_d =
  // bias - sum_t w * zp, for x taken as its own value (no offset: a padded tap reads the zp
  // pixel and adds w * zp, cancelled here). The pair layout's arrays are then empty.
  const bool direct;
  GlueBuffer<std::uint8_t> masks;   // [nblk2][32] pshufb masks (per 128-bit half: 8 + 8 bytes)
  GlueBuffer<std::int32_t> wpk;     // packed int16 weight pairs, see weight_index
  GlueBuffer<std::int32_t> bias2;   // [nblk2 * 8] bias with the zero-point term folded in
  GlueBuffer<std::size_t> c0;       // [nblk2] first input channel of each 8-block
  GlueBuffer<std::size_t> nbytes;   // [nblk2] input bytes read at c0: 8, or C when C < 8
  GlueBuffer<std::uint8_t> zpix;    // [C + 16] the zero-point pixel (bytes zp[c])
  GlueBuffer<std::int32_t> wtap;    // direct: [taps][Co]
  GlueBuffer<std::int32_t> bias_d;  // direct: [Co]
  // Direct with pair16_ok: per 16-channel block k and tap pair q (taps 2q, 2q + 1; an odd last
  // tap paired with weight 0) two vectors of 8 int16 pairs (w[o, 2q], w[o, 2q + 1]), the first
  // for channels 16k + 0..3 and 16k + 8..11, the second for 16k + 4..7 and 16k + 12..15 (the
  // order of vpunpcklwd / vpunpckhwd of two taps' 16 sign-extended bytes): [Co/16][npairs][2][16].
  GlueBuffer<std::int16_t> wp16;

 private:
  static std::uint32_t weight_sum(const std::int8_t* w, std::size_t taps) {
    std::uint32_t wsum = 0;
    for (std::size_t t = 0; t < taps; ++t) wsum += static_cast<std::uint32_t>(static_cast<std::int32_t>(w[t]));
    return wsum;
  }

  void fill_direct(const DwConv2dInt8Args& a) {
    for (std::size_t o = 0; o < Co; ++o) {
      const std::int8_t* w = a.w + o * taps;
      for (std::size_t t = 0; t < taps; ++t) {
        wtap[t * Co + o] = static_cast<std::int32_t>(static_cast<std::uint16_t>(static_cast<std::int16_t>(w[t])));
      }
      bias_d[o] = static_cast<std::int32_t>(static_cast<std::uint32_t>(a.bias[o]) -
                                            weight_sum(w, taps) * static_cast<std::uint32_t>(a.zp[o]));
    }
    if (wp16.size() == 0) return;
    for (std::size_t o = 0; o < Co; ++o) {
      const std::int8_t* w = a.w + o * taps;
      const std::size_t j = o % 16, half = (j % 8) / 4, lane = (j / 8) * 4 + j % 4;
      for (std::size_t q = 0; q < npairs; ++q) {
        std::int16_t* v = wp16.data() + (((o / 16) * npairs + q) * 2 + half) * 16 + 2 * lane;
        v[0] = w[2 * q];
        v[1] = 2 * q + 1 < taps ? w[2 * q + 1] : 0;
      }
    }
  }

  void fill_pairs(const DwConv2dInt8Args& a) {
    const std::int32_t off = a.x_unsigned ? 0 : 128;
    for (std::size_t b = 0; b < nblk2; ++b) {
      // With C >= 8 every block reads 8 bytes inside the pixel (the window slides back at the
      // end of the channels); with C < 8 it reads the C bytes from channel 0.
      const std::size_t first = (8 * b) / a.mult;
      c0[b] = a.C < 8 ? 0 : (first < a.C - 8 ? first : a.C - 8);
      nbytes[b] = a.C < 8 ? a.C : 8;
      for (std::size_t i = 0; i < 8; ++i) {
        const std::size_t o = 8 * b + i;
        const std::uint8_t idx = o < Co ? static_cast<std::uint8_t>(o / a.mult - c0[b]) : 0;
        std::uint8_t* m = masks.data() + b * 32 + 4 * i;
        m[0] = idx;
        m[1] = 0x80;
        m[2] = static_cast<std::uint8_t>(8 + idx);
        m[3] = 0x80;
        if (o >= Co) continue;
        const std::int8_t* w = a.w + o * taps;
        const std::int32_t zu = a.zp[o / a.mult] + off;
        bias2[o] = static_cast<std::int32_t>(static_cast<std::uint32_t>(a.bias[o]) -
                                             weight_sum(w, taps) * static_cast<std::uint32_t>(zu));
        for (std::size_t p = 0; p < npairs; ++p) {
          const std::uint16_t lo = static_cast<std::uint16_t>(static_cast<std::int16_t>(w[2 * p]));
          const std::uint16_t hi =
              2 * p + 1 < taps ? static_cast<std::uint16_t>(static_cast<std::int16_t>(w[2 * p + 1])) : 0;
          wpk[weight_index(b, p) + i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) |
                                                                  (static_cast<std::uint32_t>(hi) << 16));
        }
      }
    }
  }
};

// Tap pointers of output pixel (n, oh, ow): the input pixel of each tap, or the zp pixel for
// a padded tap; entries taps .. 2*npairs-1 (an odd tap count's partner) point at the zp pixel
// with weight 0. Pixels whose taps are all inside horizontally step by stride*C from the
// previous one (taps in padded rows stay on the zp pixel).
class TapWalker {
 public:
  TapWalker(const DwConv2dInt8Args& a, const Plan& p)
      : a_(a), p_(p), ptr_(2 * p.npairs), step_(2 * p.npairs), xb_(static_cast<const std::uint8_t*>(a.x)) {
    for (std::size_t t = 0; t < 2 * p.npairs; ++t) ptr_[t] = p.zpix.data();
    lo_ = 0;
    while (lo_ < p.Wo && static_cast<std::ptrdiff_t>(lo_ * a.stride) < a.pad_left) ++lo_;
    hi_ = lo_;
    while (hi_ < p.Wo && hi_ * a.stride + a.KW <= a.W + a.pad_left) ++hi_;  // iw + KW - 1 < W
  }
  TapWalker(const TapWalker&) = delete;
  TapWalker& operator=(const TapWalker&) = delete;

  // Sets the pointers for (n, oh, ow); returns them (valid until the next call).
  const std::uint8_t* const* at(std::size_t n, std::size_t oh, std::size_t ow) {
    const bool inner = ow >= lo_ && ow < hi_;
    if (inner && ow == last_ + 1 && n == n_ && oh == oh_) {
      for (std::size_t t = 0; t < p_.taps; ++t) ptr_[t] += step_[t];
    } else {
      fill(n, oh, ow);
    }
    n_ = n;
    oh_ = oh;
    last_ = inner ? ow : kNone;
    return ptr_.data();
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0} - 1;

  void fill(std::size_t n, std::size_t oh, std::size_t ow) {
    for (int kh = 0; kh < a_.KH; ++kh) {
      const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * a_.stride) + kh - a_.pad_top;
      const bool row_in = ih >= 0 && ih < static_cast<std::ptrdiff_t>(a_.H);
      for (int kw = 0; kw < a_.KW; ++kw) {
        const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * a_.stride) + kw - a_.pad_left;
        const std::size_t t = static_cast<std::size_t>(kh) * a_.KW + kw;
        step_[t] = row_in ? static_cast<std::size_t>(a_.stride) * a_.C : 0;
        ptr_[t] = row_in && iw >= 0 && iw < static_cast<std::ptrdiff_t>(a_.W)
                      ? xb_ + ((n * a_.H + static_cast<std::size_t>(ih)) * a_.W + static_cast<std::size_t>(iw)) * a_.C
                      : p_.zpix.data();
      }
    }
  }

  const DwConv2dInt8Args& a_;
  const Plan& p_;
  GlueBuffer<const std::uint8_t*> ptr_;
  GlueBuffer<std::size_t> step_;  // stride*C for taps in rows inside the image, else 0
  const std::uint8_t* xb_;
  std::size_t lo_ = 0, hi_ = 0;  // output columns whose taps are all inside horizontally
  std::size_t n_ = kNone, oh_ = kNone, last_ = kNone;
};

// 8 input bytes at p (fewer when n < 8: the rest 0, never reading past p + n).
static inline std::uint64_t load8(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, n == 8 ? 8 : n);
  return v;
}

// The ISA-independent loop of the SIMD kernels, written once: output rows split over the pool,
// each pixel's tap pointers from TapWalker, one compile-time variant per input signedness,
// full 8-byte loads (C >= 8), tap-pair count (5 for 3x3, else p.npairs at run time) and output
// (kFused: the fused requant32 of form kMode, int8 out; else int32 accumulators). An ISA
// supplies Pixel::run<kSigned, kFull, kNP>(p, taps, y): the Co int32 channels of one output
// pixel into y; and, where Pixel::kInTile, Pixel::run8<kSigned, kFull, kNP, kMode>(p, taps, rq,
// y8): the same accumulators requantised in registers, Co int8 into y8; and Pixel::kDirect:
// whether its run / run8 read the direct layout when the Plan has it (Plan::direct), and then
// Pixel::inner3x3<kSigned, kFused, kMode>(p, row0, row1, row2, C, rq, y32, y8) (direct3x3_rows).
template <class Pixel, bool kSigned, bool kFull, int kNP, bool kFused, Rq32Mode kMode>
void rows(const DwConv2dInt8Args& a, const Plan& p, std::size_t u0, std::size_t u1) {
  TapWalker walk(a, p);
  if constexpr (kFused) {
    const PreparedRequant32 rq = *a.rq;  // a local: the int8 stores may alias anything
    std::int8_t* const y8 = a.y8;
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / p.Ho, oh = u % p.Ho;
      for (std::size_t ow = 0; ow < p.Wo; ++ow) {
        Pixel::template run8<kSigned, kFull, kNP, kMode>(p, walk.at(n, oh, ow), rq,
                                                          y8 + (u * p.Wo + ow) * p.Co);
      }
    }
  } else {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / p.Ho, oh = u % p.Ho;
      for (std::size_t ow = 0; ow < p.Wo; ++ow) {
        Pixel::template run<kSigned, kFull, kNP>(p, walk.at(n, oh, ow), a.y + (u * p.Wo + ow) * p.Co);
      }
    }
  }
}

template <class Pixel, bool kSigned, bool kFused, Rq32Mode kMode>
void rows_dispatch(const DwConv2dInt8Args& a, const Plan& p, std::size_t u0, std::size_t u1) {
  if (a.C < 8) {
    rows<Pixel, kSigned, false, 0, kFused, kMode>(a, p, u0, u1);
  } else if (p.npairs == 5) {
    rows<Pixel, kSigned, true, 5, kFused, kMode>(a, p, u0, u1);
  } else {
    rows<Pixel, kSigned, true, 0, kFused, kMode>(a, p, u0, u1);
  }
}

template <class Pixel, bool kFused, Rq32Mode kMode>
void run_as(const DwConv2dInt8Args& a, const Plan& p, ThreadPool* pool) {
  parallel_ranges(pool, a.N * p.Ho, [&](std::size_t u0, std::size_t u1) {
    if (a.x_unsigned) {
      rows_dispatch<Pixel, false, kFused, kMode>(a, p, u0, u1);
    } else {
      rows_dispatch<Pixel, true, kFused, kMode>(a, p, u0, u1);
    }
  });
}

// The direct layout's 3x3 output rows [u0, u1) (Pixel::kDirect, m = 1, C % 16 == 0, KH = KW =
// 3): a row whose three input rows are inside the image keeps three row pointers, and each of
// its inner pixels (all 9 taps inside) reads tap (kh, kw) at row kh + kw*C
// (Pixel::inner3x3), the pointers advanced by stride*C per pixel: no tap-pointer table to
// update and reload per pixel. Border pixels and rows with a padded tap take TapWalker and
// Pixel::run / run8, the same arithmetic.
template <class Pixel, bool kSigned, bool kFused, Rq32Mode kMode>
void direct3x3_rows(const DwConv2dInt8Args& a, const Plan& p, std::size_t u0, std::size_t u1) {
  TapWalker walk(a, p);
  const std::size_t C = a.C, Co = p.Co, Wo = p.Wo, stride = static_cast<std::size_t>(a.stride);
  const std::size_t step = stride * C;
  const auto pad_l = static_cast<std::size_t>(a.pad_left), pad_t = static_cast<std::size_t>(a.pad_top);
  std::size_t lo = 0;
  while (lo < Wo && lo * stride < pad_l) ++lo;
  std::size_t hi = lo;
  while (hi < Wo && hi * stride + 3 <= a.W + pad_l) ++hi;
  const auto* const x = static_cast<const std::uint8_t*>(a.x);
  const PreparedRequant32 rq = kFused ? *a.rq : PreparedRequant32{};  // a local: stores may alias
  std::int8_t* const y8 = a.y8;
  std::int32_t* const y32 = a.y;
  const auto border = [&](std::size_t n, std::size_t oh, std::size_t ow, std::size_t o) {
    if constexpr (kFused) {
      Pixel::template run8<kSigned, true, 5, kMode>(p, walk.at(n, oh, ow), rq, y8 + o);
    } else {
      Pixel::template run<kSigned, true, 5>(p, walk.at(n, oh, ow), y32 + o);
    }
  };
  for (std::size_t u = u0; u < u1; ++u) {
    const std::size_t n = u / p.Ho, oh = u % p.Ho, row0 = u * Wo * Co;
    const bool rows_in = oh * stride >= pad_t && oh * stride + 3 <= a.H + pad_t;
    if (!rows_in || lo >= hi) {
      for (std::size_t ow = 0; ow < Wo; ++ow) border(n, oh, ow, row0 + ow * Co);
      continue;
    }
    for (std::size_t ow = 0; ow < lo; ++ow) border(n, oh, ow, row0 + ow * Co);
    const std::uint8_t* r0 = x + ((n * a.H + oh * stride - pad_t) * a.W + lo * stride - pad_l) * C;
    const std::uint8_t* r1 = r0 + a.W * C;
    const std::uint8_t* r2 = r1 + a.W * C;
    for (std::size_t ow = lo; ow < hi; ++ow, r0 += step, r1 += step, r2 += step) {
      const std::size_t o = row0 + ow * Co;
      Pixel::template inner3x3<kSigned, kFused, kMode>(p, r0, r1, r2, C, rq, y32 + (kFused ? 0 : o),
                                                      y8 + (kFused ? o : 0));
    }
    for (std::size_t ow = hi; ow < Wo; ++ow) border(n, oh, ow, row0 + ow * Co);
  }
}

template <class Pixel, bool kFused, Rq32Mode kMode>
void direct3x3_as(const DwConv2dInt8Args& a, const Plan& p, ThreadPool* pool) {
  parallel_ranges(pool, a.N * p.Ho, [&](std::size_t u0, std::size_t u1) {
    if (a.x_unsigned) {
      direct3x3_rows<Pixel, false, kFused, kMode>(a, p, u0, u1);
    } else {
      direct3x3_rows<Pixel, true, kFused, kMode>(a, p, u0, u1);
    }
  });
}

// Whether Pixel requantises a's fused requant32 in its register tile.
template <class Pixel>
bool in_tile(const DwConv2dInt8Args& a) {
  return Pixel::kInTile && dwconv_rq_foldable(a);
}

// The kernel: int32 accumulators, or int8 through the fused requant32 where in_tile (a caller
// that sets rq checks dwconv2d_int8_requant_in_tile first: dwconv2d_int8.h).
template <class Pixel>
void run(const DwConv2dInt8Args& a, ThreadPool* pool) {
  const Plan p(a, Pixel::kDirect, Pixel::kPair16);
  if constexpr (Pixel::kDirect) {
    if (p.direct && a.KH == 3 && a.KW == 3) {
      if (in_tile<Pixel>(a)) {
        if (a.rq->mode == Rq32Mode::kInt32) return direct3x3_as<Pixel, true, Rq32Mode::kInt32>(a, p, pool);
        return direct3x3_as<Pixel, true, Rq32Mode::kHigh32>(a, p, pool);
      }
      return direct3x3_as<Pixel, false, Rq32Mode::kInt64>(a, p, pool);
    }
  }
  if constexpr (Pixel::kInTile) {
    if (in_tile<Pixel>(a)) {
      if (a.rq->mode == Rq32Mode::kInt32) return run_as<Pixel, true, Rq32Mode::kInt32>(a, p, pool);
      return run_as<Pixel, true, Rq32Mode::kHigh32>(a, p, pool);
    }
  }
  run_as<Pixel, false, Rq32Mode::kInt64>(a, p, pool);
}

}  // namespace dwc
}  // namespace
}  // namespace bnnflow::glue
