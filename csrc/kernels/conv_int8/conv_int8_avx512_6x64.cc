// AVX-512 VNNI conv2d_int8: direct convolution, output channels across lanes, register tile
// of up to 6 output pixels x 64 output channels (24 zmm accumulators), vpdpbusd (u8 x s8,
// four products per int32 lane).
//
// vpdpbusd needs one unsigned operand: the input is staged as u = x + off (off = 128 for
// int8 input, 0 for uint8) with border pixels u = zp + off (the precondition keeps that in
// [0, 255]). Then sum w*(x - zp) = sum w*u - sum w*(zp + off) over *all* taps (border taps
// give u - (zp + off) = 0), and the second sum is a per-channel constant folded into the
// bias. The KW*Cin staged bytes of a kernel row are contiguous and read as 4-byte groups; a
// row length that is not a multiple of 4 either meets zero weights or (column-tail layout,
// below: the RGB stem) leaves its last bytes to a transposed plane.
#include <type_traits>

#include "kernels/conv_int8/conv_int8.h"
#include "kernels/common/conv_prep.h"
#include "kernels/common/isa_avx512.h"
#include "kernels/requant/requant32_avx512_lanes.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

constexpr int kTileP = 6;
constexpr std::size_t kLanes = 16;

struct Packed {
  const std::uint8_t* xu;  // staged input [N][Hp][Wp][Cin]
  const std::int8_t* wq;   // [KH][Q][CoP][4]
  const std::int32_t* bias;  // [CoP], zero-point correction folded in
  std::size_t Hp, Wp, Q, CoP;
  // Column-tail layout (see tail_layout): Q2 > 0 quads per pixel from the column-tail plane.
  const std::uint8_t* xt;  // [N][Wo][Hp][rem]
  const std::int8_t* wq2;  // [Q2][CoP][4]
  std::size_t Q2;
};

// A tile reads, for each of its P pixels, KH runs of 4*Q bytes (pixel p's run r starts at
// x0 + p*pix + r*row), then, with the column-tail layout, 4*Q2 bytes at x1 + p*pix1.
// The accumulators (and weight vectors) are named variables, not arrays: GCC scalarizes an
// __m512i array only partly here and mirrors acc[6][4] on the stack (24 extra stores at the
// start and at the end of every tile). X(p, v) for pixel p < P, vector v < V.
#define BNNFLOW_CONV_V(X) X(0) X(1) X(2) X(3)
#define BNNFLOW_CONV_PV(X) \
  X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(2, 0) X(2, 1) X(2, 2) X(2, 3) \
  X(3, 0) X(3, 1) X(3, 2) X(3, 3) X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3)

// y8 set (conv2d_int8_requant_in_tile: Cout a multiple of 16, so V < 4 only for the last
// block): the tile's requant32 in registers, int8 stores to y8 instead of int32 ones to y.
// Full unrolling of the fixed shapes' loops (native builds only: under SIMDe every intrinsic is
// an inlined loop, and the unrolled stem tiles took the test build tens of minutes; the
// loops compute the same either way).
#if defined(BNNFLOW_SIMDE_AVX512)
#define BNNFLOW_CONV_UNROLL
#else
#define BNNFLOW_CONV_UNROLL _Pragma("GCC unroll 16")
#endif

// The quad loops of a tile: KH kernel rows of Q quads, then Q2 column-tail quads, fixed at
// compile time (fully unrolled, no loop exit per kernel row: the RGB stems), or KH = 0 for
// counts read at run time.
template <std::size_t KH, std::size_t Q, std::size_t Q2, std::size_t PIX = 0>
struct Shape {
  static constexpr std::size_t kKH = KH, kQ = Q, kQ2 = Q2, kPix = PIX;  // PIX: stride * Cin
};

// No requantisation pipelined across tiles (R of tile).
struct NoPipe {
  static constexpr bool kOn = false;
  static constexpr Rq32Mode kMode = Rq32Mode::kInt64;
};
// The requant32 (prepared, form kMode) of the previous tile's accumulators, one pixel after
// each of the first kernel rows of this tile (see tile).
template <Rq32Mode M>
struct Pipe {
  static constexpr bool kOn = true;
  static constexpr Rq32Mode kMode = M;
};

// requant32 of n pixels of V*16 int32 accumulators at acc (pixel stride 64) into y8 (pixel
// stride cout), with rp's channels co..co+16V-1: 64 channels packed, 16 narrowed by vpmovsdb.
template <Rq32Mode kMode, int V = 4>
inline void rq_pixels(const std::int32_t* acc, std::size_t n, std::int8_t* y8, std::size_t cout,
                      const PreparedRequant32& rp, std::size_t co) {
  static_assert(V == 4 || V == 1, "rq_pixels: 64 or 16 channels");
  const std::size_t h = co / 2;
  for (std::size_t p = 0; p < n; ++p) {
    const std::int32_t* v = acc + p * 4 * kLanes;
    if constexpr (V == 1) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + p * cout),
                       _mm512_cvtsepi32_epi8(rq32p_apply<kMode>(_mm512_loadu_si512(v), rp, co, h)));
    } else {
      _mm512_storeu_si512(
          y8 + p * cout,
          rq32p_pack64(rq32p_apply<kMode>(_mm512_loadu_si512(v), rp, co, h),
                       rq32p_apply<kMode>(_mm512_loadu_si512(v + 16), rp, co + 16, h + 8),
                       rq32p_apply<kMode>(_mm512_loadu_si512(v + 32), rp, co + 32, h + 16),
                       rq32p_apply<kMode>(_mm512_loadu_si512(v + 48), rp, co + 48, h + 24)));
    }
  }
}

// S: the kernel's quad loops, Shape<0, 0, 0> with the counts read from a and k at run time or
// Shape<KH, Q, Q2> with them fixed at compile time (unrolled: no loop exit per kernel row).
// R = Pipe<mode> (V = 4; S fixed, or KH = 1 without column tail; block_rq: the prepared
// requant32 of channels co..co+63 at index 0): the tile stores its P x 64 int32 accumulators
// to acc_buf (L1) instead of requantising them, and requantises the previous 6-pixel tile's
// (acc_buf as it was on entry, int8 out to prev_y8 + co unless prev_y8 is null) one pixel
// after each of its first 6 kernel rows (KH < 6: the rest after the last row; KH = 1 at run
// time: after each sixth of its quads): those vector
// ops then issue next to the vpdpbusd stream instead of after it (the epilogue was ~15 % of
// the 7x7 stem's tile time).
template <int P, int V, class S, class R = NoPipe>
void tile(const Conv2dInt8Args& a, const Packed& k, const std::uint8_t* x0, std::size_t pix,
          std::size_t row, const std::uint8_t* x1, std::size_t pix1, std::size_t co, std::int32_t* y,
          std::int8_t* y8 = nullptr, std::int32_t* acc_buf = nullptr,
          std::int8_t* prev_y8 = nullptr, const PreparedRequant32* block_rq = nullptr) {
  static_assert(P >= 1 && P <= 6 && V >= 1 && V <= 4, "tile: 1..6 pixels x 1..4 vectors");
  static_assert(!R::kOn || V == 4 || V == 1, "tile: pipe needs 64 or 16 channels");
  const std::size_t KH = S::kKH > 0 ? S::kKH : static_cast<std::size_t>(a.KH);
  const std::size_t Q = S::kKH > 0 ? S::kQ : k.Q, Q2 = S::kKH > 0 ? S::kQ2 : k.Q2;
  const __m512i zero = _mm512_setzero_si512();
#define BNNFLOW_DECL_B(v) \
  const __m512i bias##v = V > v ? _mm512_loadu_si512(k.bias + co + v * kLanes) : zero;
  BNNFLOW_CONV_V(BNNFLOW_DECL_B)
#undef BNNFLOW_DECL_B
#define BNNFLOW_DECL_ACC(p, v) __m512i acc##p##v = bias##v;
  BNNFLOW_CONV_PV(BNNFLOW_DECL_ACC)
#undef BNNFLOW_DECL_ACC
  // Q quads at xr + p*px (broadcast; xq = xr + 4q) times the weight quads at wr.
#define BNNFLOW_STEP(p, v) \
  if constexpr (P > p && V > v) acc##p##v = _mm512_dpbusd_epi32(acc##p##v, b##p, w##v);
#define BNNFLOW_PIXEL(p)                                                        \
  if constexpr (P > p) {                                                        \
    std::int32_t quad;                                                          \
    std::memcpy(&quad, xq + p * px, 4);                                         \
    const __m512i b##p = _mm512_set1_epi32(quad);                               \
    BNNFLOW_STEP(p, 0) BNNFLOW_STEP(p, 1) BNNFLOW_STEP(p, 2) BNNFLOW_STEP(p, 3) \
  }
#define BNNFLOW_LOAD_W(v) const __m512i w##v = V > v ? _mm512_loadu_si512(wq + v * kLanes * 4) : zero;
#define BNNFLOW_QUAD                                                                             \
  const std::uint8_t* xq = xr + 4 * q;                                                            \
  if constexpr (S::kKH > 0) asm("" : "+r"(xq)); /* no CSE of equal quads across pixels: */       \
  const std::int8_t* wq = wr + q * k.CoP * 4;   /* the kept broadcasts spilled accumulators */   \
  BNNFLOW_CONV_V(BNNFLOW_LOAD_W)                                                                  \
  BNNFLOW_PIXEL(0) BNNFLOW_PIXEL(1) BNNFLOW_PIXEL(2) BNNFLOW_PIXEL(3) BNNFLOW_PIXEL(4) BNNFLOW_PIXEL(5)
  if constexpr (S::kKH > 0) {  // fully unrolled
BNNFLOW_CONV_UNROLL
    for (std::size_t r = 0; r < KH; ++r) {
      const std::uint8_t* xr = x0 + r * row;
      constexpr std::size_t px = S::kPix;  // constant offsets off one row pointer
      const std::int8_t* wr = k.wq + (r * Q * k.CoP + co) * 4;
BNNFLOW_CONV_UNROLL
      for (std::size_t q = 0; q < Q; ++q) {
        BNNFLOW_QUAD
      }
      if constexpr (R::kOn) {  // r is a constant here (unrolled)
        if (r < static_cast<std::size_t>(kTileP) && prev_y8 != nullptr) {
          rq_pixels<R::kMode, V>(acc_buf + r * 4 * kLanes, 1, prev_y8 + r * a.Cout + co, a.Cout,
                              *block_rq, 0);
        }
      }
    }
    if constexpr (S::kQ2 > 0) {
      const std::uint8_t* xr = x1;
      const std::size_t px = pix1;
      const std::int8_t* wr = k.wq2 + co * 4;
BNNFLOW_CONV_UNROLL
      for (std::size_t q = 0; q < Q2; ++q) {
        BNNFLOW_QUAD
      }
    }
    // Fewer kernel rows than pixels (the 3x3 stem): the previous tile's other pixels now.
    if constexpr (R::kOn && S::kKH < static_cast<std::size_t>(kTileP)) {
      if (prev_y8 != nullptr) {
        rq_pixels<R::kMode, V>(acc_buf + S::kKH * 4 * kLanes, kTileP - S::kKH,
                            prev_y8 + S::kKH * a.Cout + co, a.Cout, *block_rq, 0);
      }
    }
  } else if constexpr (R::kOn) {  // KH = 1, Q2 = 0 (piped_tiles): Q quads in 6 runs
    const std::uint8_t* xr = x0;
    const std::size_t px = pix;
    const std::int8_t* wr = k.wq + co * 4;
    std::size_t q = 0;
    for (std::size_t j = 0; j < 6; ++j) {
      for (const std::size_t q1 = (j + 1) * Q / 6; q < q1; ++q) {
        BNNFLOW_QUAD
      }
      if (prev_y8 != nullptr) {
        rq_pixels<R::kMode, V>(acc_buf + j * 4 * kLanes, 1, prev_y8 + j * a.Cout + co, a.Cout,
                            *block_rq, 0);
      }
    }
  } else {
    for (std::size_t r = 0; r < KH; ++r) {
      const std::uint8_t* xr = x0 + r * row;
      const std::size_t px = pix;
      const std::int8_t* wr = k.wq + (r * Q * k.CoP + co) * 4;
      for (std::size_t q = 0; q < Q; ++q) {
        BNNFLOW_QUAD
      }
    }
    if (Q2 > 0) {
      const std::uint8_t* xr = x1;
      const std::size_t px = pix1;
      const std::int8_t* wr = k.wq2 + co * 4;
      for (std::size_t q = 0; q < Q2; ++q) {
        BNNFLOW_QUAD
      }
    }
  }
#undef BNNFLOW_QUAD
#undef BNNFLOW_LOAD_W
#undef BNNFLOW_PIXEL
#undef BNNFLOW_STEP
  if constexpr (R::kOn) {
#define BNNFLOW_KEEP(p, v) \
  if constexpr (P > p && V > v) _mm512_store_si512(acc_buf + (p * 4 + v) * kLanes, acc##p##v);
    BNNFLOW_CONV_PV(BNNFLOW_KEEP)
#undef BNNFLOW_KEEP
    return;
  }
  if (y8 != nullptr) {
    {
      const PreparedRequant32 rp = *a.rq->prep;  // a local: the int8 stores may alias anything
      const std::size_t h = co / 2;
      // 64 channels: two packs and a permute per pixel; a narrower last block (V < 4, Cout a
      // multiple of 16: QuickNet's 16-channel stem) narrows each vector with vpmovsdb.
#define BNNFLOW_RQ_VEC(p, v, mode)                                                            \
  if constexpr (V > v) {                                                                     \
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + p * a.Cout + co + v * kLanes),          \
                     _mm512_cvtsepi32_epi8(rq32p_apply<mode>(acc##p##v, rp, co + v * kLanes, \
                                                             h + v * 8)));                   \
  }
#define BNNFLOW_RQ_PIXEL(p, mode)                                                                  \
  if constexpr (P > p && V == 4) {                                                               \
    _mm512_storeu_si512(y8 + p * a.Cout + co,                                                    \
                        rq32p_pack64(rq32p_apply<mode>(acc##p##0, rp, co, h),                     \
                                     rq32p_apply<mode>(acc##p##1, rp, co + 16, h + 8),            \
                                     rq32p_apply<mode>(acc##p##2, rp, co + 32, h + 16),           \
                                     rq32p_apply<mode>(acc##p##3, rp, co + 48, h + 24)));         \
  } else if constexpr (P > p) {                                                                  \
    BNNFLOW_RQ_VEC(p, 0, mode) BNNFLOW_RQ_VEC(p, 1, mode) BNNFLOW_RQ_VEC(p, 2, mode)              \
  }
#define BNNFLOW_RQ_TILE(mode)                                                            \
  BNNFLOW_RQ_PIXEL(0, mode) BNNFLOW_RQ_PIXEL(1, mode) BNNFLOW_RQ_PIXEL(2, mode)         \
  BNNFLOW_RQ_PIXEL(3, mode) BNNFLOW_RQ_PIXEL(4, mode) BNNFLOW_RQ_PIXEL(5, mode)
      if (rp.mode == Rq32Mode::kHigh32) {
        BNNFLOW_RQ_TILE(Rq32Mode::kHigh32)
      } else {
        BNNFLOW_RQ_TILE(Rq32Mode::kInt32)
      }
#undef BNNFLOW_RQ_TILE
#undef BNNFLOW_RQ_PIXEL
#undef BNNFLOW_RQ_VEC
      return;
    }
  }
  // Whole vectors stored plainly, a partial last one masked.
  const std::size_t valid = a.Cout - co < V * kLanes ? a.Cout - co : V * kLanes;
  const bool full = valid == V * kLanes;
#define BNNFLOW_MASK(v)                                                                        \
  const __mmask16 m##v = static_cast<__mmask16>(                                              \
      (1u << (valid > v * kLanes ? (valid - v * kLanes < kLanes ? valid - v * kLanes : kLanes) \
                                 : 0)) - 1u);
  BNNFLOW_CONV_V(BNNFLOW_MASK)
#undef BNNFLOW_MASK
#define BNNFLOW_STORE(p, v)                                                        \
  if constexpr (P > p && V > v) {                                                  \
    std::int32_t* yp = y + p * a.Cout + co + v * kLanes;                           \
    if (full) {                                                                    \
      _mm512_storeu_si512(yp, acc##p##v);                                          \
    } else {                                                                       \
      _mm512_mask_storeu_epi32(yp, m##v, acc##p##v);                               \
    }                                                                              \
  }
  BNNFLOW_CONV_PV(BNNFLOW_STORE)
#undef BNNFLOW_STORE
}
#undef BNNFLOW_CONV_PV
#undef BNNFLOW_CONV_V

// Stages u = x + off (off = 128 for int8 input) into the padded buffer; border pixels get
// `border` (zp + off per channel). The interior of a row is one contiguous run of W*Cin bytes
// (copied, or xor 0x80 = +128 mod 256 for int8 input, 64 bytes at a time).
template <class RowDone>
void stage_unsigned(const Conv2dInt8Args& a, std::uint8_t* xu, const std::uint8_t* border,
                    std::size_t Hp, std::size_t Wp, ThreadPool* pool, const RowDone& row_done) {
  const std::size_t C = a.Cin, top = static_cast<std::size_t>(a.pad_top);
  const std::size_t left = static_cast<std::size_t>(a.pad_left);
  const std::size_t run = a.W * C;
  parallel_ranges(pool, a.N * Hp, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / Hp, hp = r % Hp;
      const bool inside_h = hp >= top && hp < a.H + top;
      std::uint8_t* row = xu + r * Wp * C;
      for (std::size_t wp = 0; wp < Wp; ++wp) {
        if (inside_h && wp == left) wp = a.W + left;  // the interior is copied below
        if (wp >= Wp) break;
        std::memcpy(row + wp * C, border, C);
      }
      if (!inside_h) {
        row_done(n, hp, row);
        continue;
      }
      std::uint8_t* dst = row + left * C;
      const std::uint8_t* src = static_cast<const std::uint8_t*>(a.x) + (n * a.H + hp - top) * run;
      if (a.x_unsigned) {
        std::memcpy(dst, src, run);
        row_done(n, hp, row);
        continue;
      }
      const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
      std::size_t i = 0;
      for (; i + 64 <= run; i += 64) {
        _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), bias));
      }
      for (; i < run; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ 0x80u);
      row_done(n, hp, row);
    }
  });
}

// One block of up to 64 channels starting at co (a multiple of 64).
template <int P, class S>
void tile_block(const Conv2dInt8Args& a, const Packed& k, const std::uint8_t* x0, std::size_t pix,
                std::size_t row, const std::uint8_t* x1, std::size_t pix1, std::size_t co,
                std::int32_t* y) {
  const std::size_t vectors = (k.CoP - co) / kLanes;
  switch (vectors < 4 ? vectors : 4) {
    case 4: tile<P, 4, S>(a, k, x0, pix, row, x1, pix1, co, y); break;
    case 3: tile<P, 3, S>(a, k, x0, pix, row, x1, pix1, co, y); break;
    case 2: tile<P, 2, S>(a, k, x0, pix, row, x1, pix1, co, y); break;
    case 1: tile<P, 1, S>(a, k, x0, pix, row, x1, pix1, co, y); break;
    default: break;
  }
}

// A block requantised in the tile (conv2d_int8_requant_in_tile): 64 channels, or the last
// 16, 32 or 48 of a Cout that is a multiple of 16.
template <int P, class S>
void tile_block(const Conv2dInt8Args& a, const Packed& k, const std::uint8_t* x0, std::size_t pix,
                std::size_t row, const std::uint8_t* x1, std::size_t pix1, std::size_t co,
                std::int8_t* y8) {
  const std::size_t vectors = (k.CoP - co) / kLanes;
  switch (vectors < 4 ? vectors : 4) {
    case 4: tile<P, 4, S>(a, k, x0, pix, row, x1, pix1, co, nullptr, y8); break;
    case 3: tile<P, 3, S>(a, k, x0, pix, row, x1, pix1, co, nullptr, y8); break;
    case 2: tile<P, 2, S>(a, k, x0, pix, row, x1, pix1, co, nullptr, y8); break;
    case 1: tile<P, 1, S>(a, k, x0, pix, row, x1, pix1, co, nullptr, y8); break;
    default: break;
  }
}

// The whole 6-pixel tiles of one output row of channel block co, requantised into y8row with
// the requantisation pipelined one tile behind (tile's Pipe); returns the pixels done.
template <class S, Rq32Mode kMode, int V>
std::size_t piped_tiles_mode(const Conv2dInt8Args& a, const Packed& k, const std::uint8_t* x0,
                             std::size_t pix, std::size_t row, const std::uint8_t* x1,
                             std::size_t pix1, std::size_t co, std::int8_t* y8row, std::size_t Wo) {
  // The block's parameters copied next to each other: the tile then addresses them off one
  // pointer register (with a pointer per table GCC spilled, ~500 stack accesses per tile).
  alignas(64) std::int32_t tbl_mem[5 * 4 * kLanes];
  std::int32_t* tbl = tbl_mem;
  asm("" : "+r"(tbl));  // opaque: kept as one base register, not as stack slots
  const PreparedRequant32& rp = *a.rq->prep;
  PreparedRequant32 br = rp;
  const auto put = [&](int slot, const void* src) {  // the block's V*16 channels
    std::memcpy(tbl + slot * 4 * kLanes, src, V * kLanes * sizeof(std::int32_t));
    return tbl + slot * 4 * kLanes;
  };
  if constexpr (kMode == Rq32Mode::kHigh32) {
    br.m = put(0, rp.m + co);
    br.m_next = put(1, rp.m_next + co);
    br.c_even = reinterpret_cast<const std::int64_t*>(put(2, rp.c_even + co / 2));
    br.c_odd = reinterpret_cast<const std::int64_t*>(put(3, rp.c_odd + co / 2));
    br.sh = put(4, rp.sh + co);
  } else {
    br.lo = put(0, rp.lo + co);
    br.hi = put(1, rp.hi + co);
    br.m = put(2, rp.m + co);
    br.b32 = put(3, rp.b32 + co);
    br.sh = put(4, rp.sh + co);
  }
  alignas(64) std::int32_t acc[kTileP * 4 * kLanes];
  std::int8_t* prev = nullptr;
  std::size_t ow = 0;
  for (; ow + kTileP <= Wo; ow += kTileP) {
    tile<kTileP, V, S, Pipe<kMode>>(a, k, x0 + ow * pix, pix, row, x1 + ow * pix1, pix1, co,
                                    nullptr, nullptr, acc, prev, &br);
    prev = y8row + ow * a.Cout;
  }
  // The last Wo % 6 pixels as one narrower tile in the pipe, then its own requantisation.
  std::size_t tail = 0;
  const std::uint8_t* xr = x0 + ow * pix;
  const std::uint8_t* xr1 = x1 + ow * pix1;
  switch (Wo - ow) {
#define BNNFLOW_TAIL(T)                                                                         \
  case T:                                                                                       \
    tile<T, V, S, Pipe<kMode>>(a, k, xr, pix, row, xr1, pix1, co, nullptr, nullptr, acc, prev,   \
                               &br);                                                            \
    tail = T;                                                                                   \
    break;
    BNNFLOW_TAIL(5) BNNFLOW_TAIL(4) BNNFLOW_TAIL(3) BNNFLOW_TAIL(2) BNNFLOW_TAIL(1)
#undef BNNFLOW_TAIL
    default:
      if (prev != nullptr) rq_pixels<kMode, V>(acc, kTileP, prev + co, a.Cout, br, 0);
      return ow;
  }
  rq_pixels<kMode, V>(acc, tail, y8row + ow * a.Cout + co, a.Cout, br, 0);
  return Wo;
}

template <class S, int V>
std::size_t piped_tiles(const Conv2dInt8Args& a, const Packed& k, const std::uint8_t* x0,
                        std::size_t pix, std::size_t row, const std::uint8_t* x1, std::size_t pix1,
                        std::size_t co, std::int8_t* y8row, std::size_t Wo) {
  if (a.rq->prep->mode == Rq32Mode::kHigh32) {
    return piped_tiles_mode<S, Rq32Mode::kHigh32, V>(a, k, x0, pix, row, x1, pix1, co, y8row, Wo);
  }
  return piped_tiles_mode<S, Rq32Mode::kInt32, V>(a, k, x0, pix, row, x1, pix1, co, y8row, Wo);
}

// Column-tail layout, for kernel rows of L = KW*Cin bytes with rem = L % 4 != 0 (the RGB
// stem: 21 = 5 quads + 1 byte, read as 6 quads): each kernel row reads only its floor(L/4)
// whole quads, and the last rem bytes of every kernel row (the last rem channels of the last
// kernel column, rem <= Cin) come from a plane that holds, per output column ow, the input
// column ow*stride + KW-1 transposed, [N][Wo][Hp][rem]: for output row oh its KH*rem bytes are
// contiguous, read as Q2 = ceil(KH*rem/4) quads (bytes past KH*rem meet zero weights). The
// stem: 7*5 + 2 = 37 quads per pixel instead of 42.
struct TailLayout {
  std::size_t Q1, rem, Q2;
};

TailLayout tail_layout(const Conv2dInt8Args& a) {
  const std::size_t L = static_cast<std::size_t>(a.KW) * a.Cin, KH = static_cast<std::size_t>(a.KH);
  const std::size_t rem = L % 4, Q2 = (KH * rem + 3) / 4;
  if (rem == 0 || rem > a.Cin || KH * (L / 4) + Q2 >= KH * ((L + 3) / 4)) return {(L + 3) / 4, 0, 0};
  return {L / 4, rem, Q2};
}

// Row hp of image n of the column-tail plane, from the staged row (still in cache).
template <std::size_t REM>
void tail_plane_row_rem(const Conv2dInt8Args& a, std::size_t Hp, std::size_t Wo, std::size_t n,
                        std::size_t hp, const std::uint8_t* row, std::uint8_t* xt) {
  const std::size_t C = a.Cin, step = a.stride * C, dstep = Hp * REM;
  const std::uint8_t* src = row + (a.KW - 1) * C + C - REM;
  std::uint8_t* dst = xt + (n * Wo * Hp + hp) * REM;
  for (std::size_t ow = 0; ow < Wo; ++ow) {
    for (std::size_t j = 0; j < REM; ++j) dst[ow * dstep + j] = src[ow * step + j];
  }
}

void tail_plane_row(const Conv2dInt8Args& a, std::size_t Hp, std::size_t Wo, std::size_t rem,
                    std::size_t n, std::size_t hp, const std::uint8_t* row, std::uint8_t* xt) {
  switch (rem) {
    case 1: tail_plane_row_rem<1>(a, Hp, Wo, n, hp, row, xt); break;
    case 2: tail_plane_row_rem<2>(a, Hp, Wo, n, hp, row, xt); break;
    default: tail_plane_row_rem<3>(a, Hp, Wo, n, hp, row, xt); break;
  }
}

}  // namespace

// Packed bytes: corrected bias int32 [CoP], then weights int8 [KH][Q1][CoP][4], then (column-
// tail layout) [Q2][CoP][4].
std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a) {
  const TailLayout t = tail_layout(a);
  const std::size_t CoP = (a.Cout + kLanes - 1) / kLanes * kLanes;
  return CoP * sizeof(std::int32_t) + (static_cast<std::size_t>(a.KH) * t.Q1 + t.Q2) * CoP * 4;
}

// The bias absorbs sum over all taps of w * (zp + off): the staged input is x + off, the
// border zp + off.
void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed) {
  const std::int32_t off = a.x_unsigned ? 0 : 128;
  const std::size_t CoP = (a.Cout + kLanes - 1) / kLanes * kLanes;
  auto* bias = static_cast<std::int32_t*>(packed);
  const TailLayout t = tail_layout(a);
  const std::size_t L = static_cast<std::size_t>(a.KW) * a.Cin, KH = static_cast<std::size_t>(a.KH);
  std::int8_t* main = reinterpret_cast<std::int8_t*>(bias + CoP);
  std::int8_t* tail = main + KH * t.Q1 * CoP * 4;
  if (t.Q2 == 0) {
    pack_weights<4>(main, a.w, a.Cout, a.KH, L, CoP);  // cache-friendly order for big layers
  }
  for (std::size_t o = 0; t.Q2 > 0 && o < a.Cout; ++o) {
    for (std::size_t kh = 0; kh < KH; ++kh) {
      for (std::size_t j = 0; j < L; ++j) {
        const std::int8_t b = a.w[(o * KH + kh) * L + j];
        if (j < 4 * t.Q1) {
          main[((kh * t.Q1 + j / 4) * CoP + o) * 4 + j % 4] = b;
        } else {  // j >= L - rem: the column-tail bytes
          const std::size_t i = kh * t.rem + j - (L - t.rem);
          tail[((i / 4) * CoP + o) * 4 + i % 4] = b;
        }
      }
    }
  }
  const std::size_t taps = static_cast<std::size_t>(a.KH) * a.KW;
  for (std::size_t o = 0; o < a.Cout; ++o) {
    std::uint32_t corr = 0;  // sum over all taps of w * (zp + off), wrapping like the lanes
    for (std::size_t t = 0; t < taps; ++t) {
      const std::int8_t* w = a.w + (o * taps + t) * a.Cin;
      for (std::size_t c = 0; c < a.Cin; ++c) {
        const std::uint8_t border = static_cast<std::uint8_t>(a.zp[c] + off);
        corr += static_cast<std::uint32_t>(w[c] * border);
      }
    }
    bias[o] = static_cast<std::int32_t>(static_cast<std::uint32_t>(a.bias[o]) - corr);
  }
}

void conv2d_int8(const Conv2dInt8Args& a, ThreadPool* pool) {
  GlueBuffer<std::uint8_t> packed(conv2d_int8_packed_bytes(a));
  conv2d_int8_pack(a, packed.data());
  conv2d_int8_packed(a, packed.data(), pool);
}

void conv2d_int8_packed(const Conv2dInt8Args& a_in, const void* packed, ThreadPool* pool) {
  // A 1x1 stride-1 convolution without padding on the calling thread alone (pool == nullptr:
  // the band chains' links) is one row of N*H*W pixels (the same bytes in and out): whole
  // 6-pixel tiles but for one tail, not one tail per image row (28 = 4*6 + 4 pixels a row at
  // 28x28, 7 = 6 + 1 at 7x7). (Not for a pool of one thread: ThreadPool::num_threads is an
  // inline that an ISA object must not instantiate, docs/development.md "Per-ISA objects".)
  // Not when an int64-form requant32 follows out of the tile: its per-row int32 scratch
  // would become the whole N*H*W*Cout tensor.
  Conv2dInt8Args a = a_in;
  const bool rq_in_tile_or_none = a.rq == nullptr || conv2d_int8_requant_in_tile(a);
  if (a.KH == 1 && a.KW == 1 && a.stride == 1 && a.pad_top == 0 && a.pad_left == 0 &&
      a.pad_bottom == 0 && a.pad_right == 0 && pool == nullptr && rq_in_tile_or_none) {
    a.W = a.N * a.H * a.W;
    a.N = a.H = 1;
  }
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right);
  const std::int32_t off = a.x_unsigned ? 0 : 128;
  Packed k;
  k.Hp = a.H + a.pad_top + a.pad_bottom;
  k.Wp = a.W + a.pad_left + a.pad_right;
  const TailLayout t = tail_layout(a);
  k.Q = t.Q1;
  k.Q2 = t.Q2;
  k.CoP = (a.Cout + kLanes - 1) / kLanes * kLanes;

  // 4 bytes of slack each (zeroed; they meet zero weights): the last quad of the last kernel
  // row may read past the last pixel, the last tail quad past the last column of the tail
  // plane. Both buffers are the calling thread's, kept across calls: staging writes every
  // other byte, so there is no allocation or memset per call (the band chains call the stem
  // once per band).
  const std::size_t nxu = a.N * k.Hp * k.Wp * a.Cin, nxt = t.Q2 > 0 ? a.N * Wo * k.Hp * t.rem : 0;
  ThreadScratch<2> staging;  // 0: the staged input, 1: the column-tail plane
  std::uint8_t* xu = staging.scratch(0, nxu + 4);
  std::uint8_t* xt = staging.scratch(1, nxt + 4);
  std::memset(xu + nxu, 0, 4);
  std::memset(xt + nxt, 0, 4);
  GlueBuffer<std::uint8_t> border(a.Cin);
  for (std::size_t c = 0; c < a.Cin; ++c) border[c] = static_cast<std::uint8_t>(a.zp[c] + off);
  stage_unsigned(a, xu, border.data(), k.Hp, k.Wp, pool,
                 [&](std::size_t n, std::size_t hp, const std::uint8_t* srow) {
                   if (t.Q2 > 0) tail_plane_row(a, k.Hp, Wo, t.rem, n, hp, srow, xt);
                 });
  k.xu = xu;
  k.xt = xt;

  k.bias = static_cast<const std::int32_t*>(packed);
  k.wq = reinterpret_cast<const std::int8_t*>(k.bias + k.CoP);
  k.wq2 = k.wq + static_cast<std::size_t>(a.KH) * k.Q * k.CoP * 4;

  const std::size_t row = k.Wp * a.Cin, pix = static_cast<std::size_t>(a.stride) * a.Cin;
  const std::size_t pix1 = k.Hp * t.rem;
  // One output row's tiles of channel block co into yrow: int32 (conv_int8_rows) or, with the
  // requant32 in the tile, int8 (conv_int8_rows_in_tile); the tiles' quad loops of shape S.
  const auto rows_of = [&](auto shape) {
    using S = decltype(shape);
    const auto block = [&](std::size_t n, std::size_t oh, std::size_t co, auto* yrow) {
      const std::uint8_t* x0 = k.xu + (n * k.Hp + oh * a.stride) * row;
      const std::uint8_t* x1 = k.xt + (n * Wo * k.Hp + oh * a.stride) * t.rem;
      std::size_t ow = 0;
      if constexpr (std::is_same_v<decltype(yrow), std::int8_t*>) {
        // Piped: blocks of 64 channels, and of 16 (QuickNet's 16-channel 3x3 stem; not built
        // for the 7x7 stem's unrolled shape, whose Cout is 64: compile time).
        const std::size_t vectors = (k.CoP - co) / kLanes;
        if (S::kKH > 0 || (a.KH == 1 && k.Q2 == 0)) {
          if (vectors >= 4) {
            ow = piped_tiles<S, 4>(a, k, x0, pix, row, x1, pix1, co, yrow, Wo);
          } else if constexpr (S::kKH < 7) {
            if (vectors == 1) ow = piped_tiles<S, 1>(a, k, x0, pix, row, x1, pix1, co, yrow, Wo);
          }
        }
      }
      for (; ow + kTileP <= Wo; ow += kTileP) {
        tile_block<kTileP, S>(a, k, x0 + ow * pix, pix, row, x1 + ow * pix1, pix1, co,
                              yrow + ow * a.Cout);
      }
      const std::uint8_t* xr = x0 + ow * pix;
      const std::uint8_t* xr1 = x1 + ow * pix1;
      auto* yr = yrow + ow * a.Cout;
      switch (Wo - ow) {  // the last < kTileP pixels as one narrower tile
        case 5: tile_block<5, S>(a, k, xr, pix, row, xr1, pix1, co, yr); break;
        case 4: tile_block<4, S>(a, k, xr, pix, row, xr1, pix1, co, yr); break;
        case 3: tile_block<3, S>(a, k, xr, pix, row, xr1, pix1, co, yr); break;
        case 2: tile_block<2, S>(a, k, xr, pix, row, xr1, pix1, co, yr); break;
        case 1: tile_block<1, S>(a, k, xr, pix, row, xr1, pix1, co, yr); break;
        default: break;
      }
    };
    if (conv2d_int8_requant_in_tile(a)) {
      conv_int8_rows_in_tile(a, Ho, Wo, 4 * kLanes, pool,
                             [&](std::size_t n, std::size_t oh, std::size_t co, std::int8_t* y8row) {
                               block(n, oh, co, y8row);
                             });
    } else {
      conv_int8_rows(a, Ho, Wo, 4 * kLanes, pool,
                     [&](std::size_t n, std::size_t oh, std::size_t co, std::int32_t* yrow) {
                       block(n, oh, co, yrow);
                     });
    }
  };
  const auto is = [&](std::size_t kh, std::size_t q, std::size_t q2) {
    return static_cast<std::size_t>(a.KH) == kh && k.Q == q && k.Q2 == q2 && pix == 6;
  };
  if (is(7, 5, 2)) {
    rows_of(Shape<7, 5, 2, 6>{});  // 7x7 s2 RGB stem (ResNet, Bi-Real-Net)
  } else if (is(3, 2, 1)) {
    rows_of(Shape<3, 2, 1, 6>{});  // 3x3 s2 RGB stem (QuickNet)
  } else {
    rows_of(Shape<0, 0, 0>{});
  }
}

bool conv2d_int8_requant_in_tile(const Conv2dInt8Args& a) {
  return a.rq != nullptr && a.rq->prep != nullptr && a.rq->prep->mode != Rq32Mode::kInt64 &&
         a.Cout % kLanes == 0;
}

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
