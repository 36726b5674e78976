// AVX2 conv2d_int8: direct convolution, output channels across lanes, register tile of
// 3 output pixels x 32 output channels (12 accumulators; 4x16, 2x32, 6x16 measured no faster
// on whole 32-channel blocks), or 6 pixels x 16 channels for a last block of <= 16 channels.
//
// Exact scheme: the input is staged once as int16 (x - zp) with a zero border, so the KW*Cin
// values of one kernel row are contiguous; they are consumed in pairs: one broadcast 32-bit
// load of (d[k], d[k+1]) times packed int16 weights (w[o,k], w[o,k+1]) per lane, vpmaddwd ->
// int32, vpaddd. |d| <= 255, |w| <= 128, so each pair sum (<= 65280) is exact in int32; an odd
// row length pairs its last value with weight 0, or, for KH >= 5, with the next kernel row's
// last value (vertical pairs, pair_layout below). The bound is vpmaddwd + vpaddd, not the
// vpmaddwd-only peak (benchmarks/avx2_stem_bound.cc; docs/glue-kernels.md, "AVX2 stem on Zen 4").
//
// Why not vpmaddubsw (u8 x s8 -> saturating int16 pair sums; docs/glue-kernels.md, "AVX2 stem:
// no faster exact 8-bit multiply"): with unrestricted int8 operands one int16 lane holds at most
// one product (255 * 128 = 32640 <= 32767 < 2 * 32640), and any split of x or w into narrower
// parts costs two byte products per MAC, so an exact vpmaddubsw does at most 16 MACs, like
// vpmaddwd, and its int16 sums still need a widening vpmaddwd: never fewer multiplies.
//
// The 7x7 stride-2 RGB stem (whole 32-channel blocks, even output width) takes fewer products
// instead: exact integer Winograd along the width (wino_* below), 99 vpmaddwd per 2 pixels and
// 8 channels against 148, the same 3x32 register tile per transformed position. Flat 1x1
// layers (>= 64 pixels) take Winograd's inner-product form (ip_* below): 1 vpmaddwd per 32 MACs
// on int16 sums x + w, its adds no longer waiting on the multiply pipes.
#include <immintrin.h>

#include <cstring>
#include <new>

#include <type_traits>

#include "kernels/conv_int8/conv_int8.h"
#include "kernels/requant/requant32_avx2_lanes.h"

namespace bnnflow::glue::avx2 {
namespace {

constexpr int kTileP = 3;  // output pixels per tile
constexpr int kNV = 4;     // ymm vectors of 8 output channels per tile
constexpr std::size_t kTileC = 8 * kNV;
constexpr int kTileP16 = 6;
constexpr std::size_t kTileIP = 4;  // output pixels per tile of the inner-product form (ip_tile)
// The inner-product form from this many flat pixels per call: the 7x7 256->512 shortcut (49
// pixels: 12 tiles and a 1-pixel one) ran 0.004 ms slower with it in the Bi-Real-Net-18 model
// (0.091 -> 0.095 ms, faster in isolation), so it keeps the direct 3x32 tiles.
constexpr std::size_t kIpMinPixels = 64;

template <Rq32Mode M>
struct ModeTag {
  static constexpr Rq32Mode value = M;
};  // output pixels per tile of a last block of <= 16 channels

struct Packed {
  const std::int16_t* xp;  // staged input [N][Hp][Wp][Cin]
  const std::int16_t* wp;  // [CoP / 32][PB][32][2], PB = KH*J + KV pairs (conv2d_int8_pack)
  const std::int32_t* bias;  // [CoP]
  // Vertical pairs (odd KW*Cin, KH >= 5; else null): vp[n*Hp + r][ow] = the (int16) pair
  // (xp[n][r][i], xp[n][r+1][i]), i = ow*stride*Cin + KW*Cin - 1 (a kernel row's last value),
  // their weights the block's pairs KH*J .. KH*J + KV - 1.
  const std::int32_t* vp;
  std::size_t Hp, Wp, J, CoP, KV, Wo, PB;
  // With the requant32 in the tile: its parameters per 8 output channels (Cout / 8 steps).
  const Rq32Lanes* rq_tab = nullptr;
  // The inner-product form of a flat 1x1 (ip_*): staged input [pixels + 2][Cin4], its per-pixel
  // corrections, the corrected bias [CoP] and the weights [CoP / 16][Cin4 / 4][4][8][2].
  const std::int16_t* xi = nullptr;
  const std::int32_t* cx = nullptr;
  const std::int32_t* ib = nullptr;
  const std::int16_t* iw = nullptr;
  std::size_t Cin4 = 0;
};

// P output pixels x NV vectors of 8 channels starting at co: NV = kNV (32 channels, P = 3) for
// whole blocks, NV = 2 (16 channels, P = kTileP16 = 6, again 12 accumulators) for a last block
// of <= 16 channels, so a 16-channel layer (the QuickNet stem) spends no multiplies on the zero
// weights of padding channels 16..31.
// y8 set (NV = kNV, or NV = 2 for a last block of 16 channels; conv2d_int8_requant_in_tile):
// the tile's requant32 in registers, int8 stores to y8 instead of int32 ones to y.
template <int P, int NV = kNV>
void tile(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh, std::size_t ow,
          std::size_t co, std::int32_t* y, std::int8_t* y8 = nullptr) {
  static_assert(NV == kNV || NV == 2, "tile: 32 or 16 channels (the int8 stores)");
  __m256i acc[P][NV];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < NV; ++v) {
      acc[p][v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(k.bias + co + 8 * v));
    }
  }
  const std::size_t pix = static_cast<std::size_t>(a.stride) * a.Cin;
  // Segments: the KH kernel rows (pairs 2j along a staged row, pixels pix apart), then the
  // vertical pairs (pair q at row 2q of vp, i.e. 4*Wo int16 apart, pixels 2 apart).
  const std::size_t segs = static_cast<std::size_t>(a.KH) + (k.vp != nullptr ? 1 : 0);
  for (std::size_t sg = 0; sg < segs; ++sg) {
    const bool vert = sg == static_cast<std::size_t>(a.KH);
    const std::int16_t* xr =
        vert ? reinterpret_cast<const std::int16_t*>(k.vp + (n * k.Hp + oh * a.stride) * k.Wo + ow)
             : k.xp + ((n * k.Hp + oh * a.stride + sg) * k.Wp + ow * a.stride) * a.Cin;
    const std::size_t ps = vert ? 2 : pix, js = vert ? 4 * k.Wo : 2, J = vert ? k.KV : k.J;
    const std::int16_t* wr = k.wp + ((co / kTileC) * k.PB + sg * k.J) * (2 * kTileC);
    for (std::size_t j = 0; j < J; ++j) {
      __m256i w[NV];
      for (int v = 0; v < NV; ++v) {
        w[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(wr + j * (2 * kTileC) + 16 * v));
      }
      for (int p = 0; p < P; ++p) {
        std::int32_t pair;
        std::memcpy(&pair, xr + p * ps + j * js, 4);
        const __m256i b = _mm256_set1_epi32(pair);
        for (int v = 0; v < NV; ++v) {
          acc[p][v] = _mm256_add_epi32(acc[p][v], _mm256_madd_epi16(b, w[v]));
        }
      }
    }
  }
  if (y8 != nullptr) {
    // The step parameters from one pointer (Packed::rq_tab: no per-array pointers to keep
    // live beside the 12 accumulators); every pixel's results before the first int8 store:
    // 32 bytes per pixel, or 16 for a 16-channel tile (NV = 2, the last block of Cout % 32 = 16).
    const Rq32Lanes* t = k.rq_tab + co / 8;
    const std::size_t cout = a.Cout;
    const auto store = [&](auto mode) {  // one loop per form, the form a compile-time constant
      constexpr Rq32Mode kMode = decltype(mode)::value;
      for (int p = 0; p < P; ++p) {
        for (int v = 0; v < NV; ++v) acc[p][v] = rq32p_apply<kMode>(acc[p][v], t[v]);
      }
      for (int p = 0; p < P; ++p) {
        if constexpr (NV == kNV) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(y8 + p * cout + co),
                              rq32p_pack32(acc[p][0], acc[p][1], acc[p][2], acc[p][3]));
        } else {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(y8 + p * cout + co),
                           rq32p_pack16(acc[p][0], acc[p][1]));
        }
      }
    };
    if (a.rq->prep->mode == Rq32Mode::kHigh32) {
      store(ModeTag<Rq32Mode::kHigh32>{});
    } else {
      store(ModeTag<Rq32Mode::kInt32>{});
    }
    return;
  }
  constexpr std::size_t kCh = 8 * NV;
  const std::size_t valid = a.Cout - co < kCh ? a.Cout - co : kCh;
  for (int p = 0; p < P; ++p) {
    std::int32_t* yp = y + p * a.Cout + co;
    if (valid == kCh) {
      for (int v = 0; v < NV; ++v) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + 8 * v), acc[p][v]);
      }
    } else {
      alignas(32) std::int32_t tmp[kCh];
      for (int v = 0; v < NV; ++v) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8 * v), acc[p][v]);
      }
      std::memcpy(yp, tmp, valid * sizeof(std::int32_t));
    }
  }
}

// Output pixels [0, Wo) of row (n, oh), channels [co, co + 32): tiles of kTileP pixels, then
// single pixels (two 2-pixel tiles instead of 3 + 1 for ResNet's 112-pixel rows measured the
// same). int32 to yrow ([Wo][Cout]) or, with y8row set, requantised int8 to y8row.
void row32(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh,
           std::size_t co, std::size_t Wo, std::int32_t* yrow, std::int8_t* y8row) {
  const auto at = [&](std::size_t ow) { return yrow == nullptr ? nullptr : yrow + ow * a.Cout; };
  const auto at8 = [&](std::size_t ow) { return y8row == nullptr ? nullptr : y8row + ow * a.Cout; };
  std::size_t ow = 0;
  for (; ow + kTileP <= Wo; ow += kTileP) tile<kTileP>(a, k, n, oh, ow, co, at(ow), at8(ow));
  for (; ow < Wo; ++ow) tile<1>(a, k, n, oh, ow, co, at(ow), at8(ow));
}

// A 1x1 convolution with stride 1 and no padding, Cout a multiple of 32, int32 out or the
// requant32 in the tile: output pixel i (over N*H*W, row-major) reads staged pixel i, so the
// tiles run along the flat pixel range and cross image rows (the downsample shortcuts' 28-, 14-
// and 7-pixel rows would otherwise end every row with a short tile). From kIpMinPixels pixels
// these layers run the inner-product form (ip_tile: 4 pixels x 16 channels, 1 vpmaddwd per 32
// MACs), else the direct 3x32 tile.
bool flat_1x1(const Conv2dInt8Args& a) {
  return a.KH == 1 && a.KW == 1 && a.stride == 1 && a.pad_top == 0 && a.pad_left == 0 &&
         a.pad_bottom == 0 && a.pad_right == 0 && a.Cout % kTileC == 0 &&
         (a.rq == nullptr || conv2d_int8_requant_in_tile(a));
}

// Winograd's (1968) inner-product form of a flat 1x1 convolution, exact in wrapping int32:
//   sum_k w_k x_k = sum_j (x_2j + w_2j+1)(x_2j+1 + w_2j) - sum_j x_2j x_2j+1 - sum_j w_2j w_2j+1.
// Per 4 input values, pixel and 8 channels: the int16 sums (x0 + w1, x2 + w3) and (x1 + w0,
// x3 + w2) by two vpaddw (|x - zp| <= 255, |w| <= 128: |sum| <= 383), one vpmaddwd (|pair sum|
// <= 2 * 383^2 < 2^19) and one vpaddd: 1 multiply per 32 MACs instead of 2, and on Zen 4 the
// adds no longer take the multiply pipes' slots (benchmarks/avx2_stem_bound.cc: `ip 3x16` 110.8
// GMAC/s against the 3x32 tile's 95.4). The w*w sums sit in the packed bias (Packed::ib), the
// x*x sums per pixel (Packed::cx) come from the staging (stage_ip). The staged input keeps each
// pixel's Cin4 = Cin rounded up to 4 values (zeros after Cin), each 4 as (x0, x2, x1, x3), so
// the two broadcast dwords of a step are adjacent; the weights of 16 channels per step are
// (w1, w3) and (w0, w2) for channels 0-7, then for 8-15.
#define BNNFLOW_IP_PX(XA, XB, A0, A1)                                                        \
  "vpbroadcastd " XA ", %%ymm4\n\tvpbroadcastd " XB ", %%ymm5\n\t"                           \
  "vpaddw %%ymm0, %%ymm4, %%ymm6\n\tvpaddw %%ymm1, %%ymm5, %%ymm7\n\t"                       \
  "vpmaddwd %%ymm7, %%ymm6, %%ymm6\n\tvpaddd %%ymm6, %%ymm" A0 ", %%ymm" A0 "\n\t"           \
  "vpaddw %%ymm2, %%ymm4, %%ymm4\n\tvpaddw %%ymm3, %%ymm5, %%ymm5\n\t"                       \
  "vpmaddwd %%ymm5, %%ymm4, %%ymm4\n\tvpaddd %%ymm4, %%ymm" A1 ", %%ymm" A1 "\n\t"

// kTileIP flat pixels (xs bytes apart; x3 = the fourth) x 16 channels, Q steps of 4 input
// values: the sums without bias and corrections to m ([4][16] int32).
inline void ip_nu4(const std::int16_t* x, const std::int16_t* x3, std::size_t xs,
                   const std::int16_t* w, std::size_t Q, std::int32_t* m) {
  asm volatile(
      "vpxor %%xmm8, %%xmm8, %%xmm8\n\tvpxor %%xmm9, %%xmm9, %%xmm9\n\t"
      "vpxor %%xmm10, %%xmm10, %%xmm10\n\tvpxor %%xmm11, %%xmm11, %%xmm11\n\t"
      "vpxor %%xmm12, %%xmm12, %%xmm12\n\tvpxor %%xmm13, %%xmm13, %%xmm13\n\t"
      "vpxor %%xmm14, %%xmm14, %%xmm14\n\tvpxor %%xmm15, %%xmm15, %%xmm15\n\t"
      "1:\n\t"
      "vmovdqa (%[w]), %%ymm0\n\tvmovdqa 32(%[w]), %%ymm1\n\t"
      "vmovdqa 64(%[w]), %%ymm2\n\tvmovdqa 96(%[w]), %%ymm3\n\t"
      BNNFLOW_IP_PX("(%[x])", "4(%[x])", "8", "9")
      BNNFLOW_IP_PX("(%[x],%[xs],1)", "4(%[x],%[xs],1)", "10", "11")
      BNNFLOW_IP_PX("(%[x],%[xs],2)", "4(%[x],%[xs],2)", "12", "13")
      BNNFLOW_IP_PX("(%[x3])", "4(%[x3])", "14", "15")
      "add $8, %[x]\n\tadd $8, %[x3]\n\tsub $-128, %[w]\n\tdec %[q]\n\tjnz 1b\n\t"
      "vmovdqa %%ymm8, (%[m])\n\tvmovdqa %%ymm9, 32(%[m])\n\t"
      "vmovdqa %%ymm10, 64(%[m])\n\tvmovdqa %%ymm11, 96(%[m])\n\t"
      "vmovdqa %%ymm12, 128(%[m])\n\tvmovdqa %%ymm13, 160(%[m])\n\t"
      "vmovdqa %%ymm14, 192(%[m])\n\tvmovdqa %%ymm15, 224(%[m])\n\t"
      : [x] "+r"(x), [x3] "+r"(x3), [w] "+r"(w), [q] "+r"(Q)
      : [xs] "r"(xs), [m] "r"(m)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}
#undef BNNFLOW_IP_PX

// Flat pixels p .. p + cnt - 1 (cnt <= kTileIP; the staging has kTileIP - 1 zero pixels past
// the last, so every slot is readable), channels [co, co + 32): the two 16-channel halves,
// + corrected bias - cx[p], then int32 stores to y or the requant32 in registers and int8
// stores to y8.
void ip_tile(const Conv2dInt8Args& a, const Packed& k, std::size_t p, std::size_t cnt,
             std::size_t co, std::int32_t* y, std::int8_t* y8) {
  alignas(32) std::int32_t m[2][kTileIP][16];
  const std::size_t Q = k.Cin4 / 4, xs = k.Cin4 * sizeof(std::int16_t);
  const std::int16_t* x = k.xi + p * k.Cin4;
  for (std::size_t h = 0; h < 2; ++h) {
    ip_nu4(x, x + 3 * k.Cin4, xs, k.iw + (co / 16 + h) * Q * 64, Q, &m[h][0][0]);
  }
  __m256i acc[kTileIP][kNV];
  for (std::size_t q = 0; q < kTileIP; ++q) {
    const __m256i c = _mm256_set1_epi32(k.cx[p + q]);
    for (int v = 0; v < kNV; ++v) {
      const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(m[v / 2][q] + 8 * (v % 2)));
      const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(k.ib + co + 8 * v));
      acc[q][v] = _mm256_sub_epi32(_mm256_add_epi32(s, b), c);
    }
  }
  const std::size_t cout = a.Cout;
  if (y8 != nullptr) {
    const Rq32Lanes* t = k.rq_tab + co / 8;
    const auto store = [&](auto mode) {
      constexpr Rq32Mode kMode = decltype(mode)::value;
      for (std::size_t q = 0; q < cnt; ++q) {
        for (int v = 0; v < kNV; ++v) acc[q][v] = rq32p_apply<kMode>(acc[q][v], t[v]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y8 + q * cout + co),
                            rq32p_pack32(acc[q][0], acc[q][1], acc[q][2], acc[q][3]));
      }
    };
    if (a.rq->prep->mode == Rq32Mode::kHigh32) {
      store(ModeTag<Rq32Mode::kHigh32>{});
    } else {
      store(ModeTag<Rq32Mode::kInt32>{});
    }
    return;
  }
  for (std::size_t q = 0; q < cnt; ++q) {
    for (int v = 0; v < kNV; ++v) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + q * cout + co + 8 * v), acc[q][v]);
    }
  }
}

// Flat pixels [p0, p1), channels [co, co + 32): with the inner-product form (k.xi set) tiles of
// kTileIP pixels, the last one shorter; else the direct 3-pixel tiles, then one of the 1 or 2 left.
void flat_range(const Conv2dInt8Args& a, const Packed& k, std::size_t co, std::size_t p0,
                std::size_t p1) {
  std::int32_t* const y = a.rq == nullptr ? a.y : nullptr;
  std::int8_t* const y8 = a.rq == nullptr ? nullptr : a.rq->y;
  const auto at = [&](std::size_t p) { return y == nullptr ? nullptr : y + p * a.Cout; };
  const auto at8 = [&](std::size_t p) { return y8 == nullptr ? nullptr : y8 + p * a.Cout; };
  std::size_t p = p0;
  if (k.xi != nullptr) {
    for (; p < p1; p += kTileIP) ip_tile(a, k, p, p1 - p < kTileIP ? p1 - p : kTileIP, co, at(p), at8(p));
    return;
  }
  for (; p + kTileP <= p1; p += kTileP) tile<kTileP>(a, k, 0, 0, p, co, at(p), at8(p));
  if (p1 - p == 2) tile<2>(a, k, 0, 0, p, co, at(p), at8(p));
  if (p1 - p == 1) tile<1>(a, k, 0, 0, p, co, at(p), at8(p));
}

// Units (channel block, run of pixels), block-major (a block's weights stay in cache); runs of
// a multiple of kTileIP pixels (the last one shorter), at most kFlatRun, as even as that allows.
constexpr std::size_t kFlatRun = 192;

void flat_units(const Conv2dInt8Args& a, const Packed& k, std::size_t pixels, ThreadPool* pool) {
  const std::size_t blocks = a.Cout / kTileC;
  const std::size_t want = (pixels + kFlatRun - 1) / kFlatRun;
  const std::size_t tp = k.xi != nullptr ? kTileIP : static_cast<std::size_t>(kTileP);
  const std::size_t run = ((pixels + want - 1) / want + tp - 1) / tp * tp;
  const std::size_t runs = (pixels + run - 1) / run;
  parallel_ranges(pool, blocks * runs, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t p0 = (u % runs) * run;
      flat_range(a, k, (u / runs) * kTileC, p0, p0 + run < pixels ? p0 + run : pixels);
    }
  });
}

// Output pixels [0, Wo) of row (n, oh), channels [co, co + 16) (a last block of <= 16
// channels): tiles of kTileP16 pixels, the last Wo % kTileP16 pixels as one tile of that many
// (QuickNet's 3x3 s2 3 -> 16 stem, Wo = 112 = 18 * 6 + 4: one 4-pixel tile instead of four
// 1-pixel ones, 9 % faster).
// int32 to yrow ([Wo][Cout]) or, with y8row set (Cout % 32 = 16, conv2d_int8_requant_in_tile),
// requantised int8 to y8row.
void row16(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh,
           std::size_t co, std::size_t Wo, std::int32_t* yrow, std::int8_t* y8row = nullptr) {
  const auto run = [&](auto pixels, std::size_t ow) {
    constexpr int kP = decltype(pixels)::value;
    if (y8row != nullptr) {
      tile<kP, 2>(a, k, n, oh, ow, co, nullptr, y8row + ow * a.Cout);
    } else {
      tile<kP, 2>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
    }
  };
  std::size_t ow = 0;
  for (; ow + kTileP16 <= Wo; ow += kTileP16) run(std::integral_constant<int, kTileP16>{}, ow);
  switch (Wo - ow) {
    case 5: run(std::integral_constant<int, 5>{}, ow); break;
    case 4: run(std::integral_constant<int, 4>{}, ow); break;
    case 3: run(std::integral_constant<int, 3>{}, ow); break;
    case 2: run(std::integral_constant<int, 2>{}, ow); break;
    case 1: run(std::integral_constant<int, 1>{}, ow); break;
    default: break;
  }
}

constexpr std::size_t round64(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

// Zeroes what stage_int16 does not write: the padding rows and columns of every image and the
// `tail` elements after the last one (a pair's read past a row's end meets zero weights, but
// stays deterministic). A 1x1 convolution without padding zeroes nothing but the tail.
void zero_border(const Conv2dInt8Args& a, std::int16_t* xp, std::size_t Hp, std::size_t Wp,
                 std::size_t tail) {
  const std::size_t C = a.Cin, row = Wp * C;
  const std::size_t top = static_cast<std::size_t>(a.pad_top), bottom = static_cast<std::size_t>(a.pad_bottom);
  const std::size_t left = static_cast<std::size_t>(a.pad_left) * C;
  const std::size_t right = static_cast<std::size_t>(a.pad_right) * C;
  const auto zero = [](std::int16_t* p, std::size_t n) {
    if (n > 0) std::memset(static_cast<void*>(p), 0, n * sizeof(std::int16_t));
  };
  for (std::size_t n = 0; n < a.N; ++n) {
    std::int16_t* img = xp + n * Hp * row;
    zero(img, top * row);
    zero(img + (Hp - bottom) * row, bottom * row);
    if (left + right > 0) {
      for (std::size_t r = top; r < Hp - bottom; ++r) {
        zero(img + r * row, left);
        zero(img + r * row + row - right, right);
      }
    }
  }
  zero(xp + a.N * Hp * row, tail);
}

// The interior of the padded buffer (its border zeroed by zero_border),
// xp[n][h+pad_top][w+pad_left][c] = x[n][h][w][c] - zp[c]
// (|x - zp| <= 255: exact in int16). An input row is one run of W*Cin values, widened 16 at a
// time (vpmovzxbw / vpmovsxbw) minus the zero points laid along the row once per call (a
// scalar loop per value cost as many instructions as the QuickNet stem's tiles).
// zr: W*Cin int16 of scratch for the zero points along a row.
void stage_int16(const Conv2dInt8Args& a, std::int16_t* xp, std::size_t Hp, std::size_t Wp,
                 std::int16_t* zr, ThreadPool* pool) {
  const std::size_t C = a.Cin, run = a.W * C;
  const std::size_t top = static_cast<std::size_t>(a.pad_top);
  const std::size_t left = static_cast<std::size_t>(a.pad_left);
  for (std::size_t c = 0; c < C; ++c) zr[c] = static_cast<std::int16_t>(a.zp[c]);  // zr[w*C + c] = zp[c]
  for (std::size_t i = C; i < run; i += C) std::memcpy(zr + i, zr, C * sizeof(std::int16_t));
  const std::int16_t* z = zr;
  // Everything the loop reads in locals (the int16 stores may alias anything, so fields read
  // through `a` or the captures were reloaded every 16 values), one loop per input dtype.
  const bool is_unsigned = a.x_unsigned;
  const auto* const x = static_cast<const std::uint8_t*>(a.x);
  const std::size_t H = a.H;
  parallel_ranges(pool, a.N * H, [=](std::size_t r0, std::size_t r1) {
    const auto widen = [=](auto unsigned_input, const std::uint8_t* in, std::int16_t* out) {
      constexpr bool kU = decltype(unsigned_input)::value;
      std::size_t i = 0;
      for (; i + 16 <= run; i += 16) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        const __m256i v = kU ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b);
        const __m256i zp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + i));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_sub_epi16(v, zp));
      }
      for (; i < run; ++i) {
        const std::int32_t v = kU ? in[i] : static_cast<std::int8_t>(in[i]);
        out[i] = static_cast<std::int16_t>(v - z[i]);
      }
    };
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / H, h = r % H;
      std::int16_t* out = xp + ((n * Hp + h + top) * Wp + left) * C;
      if (is_unsigned) {
        widen(std::true_type{}, x + r * run, out);
      } else {
        widen(std::false_type{}, x + r * run, out);
      }
    }
  });
}

// The inner-product form's staging (ip_tile), xi[i][Cin4] = pixel i's x - zp with each 4
// values as (x0, x2, x1, x3) and zeros after Cin, cx[i] = sum_j x_2j x_2j+1 (wrapping int32),
// then kTileIP - 1 zero pixels (cx 0) for the last tile's unused slots. Cin % 16 = 0: 16 values a step
// (vpshufb for the order, vpmaddwd of v and v >> 16 for the products); else one at a time.
// zp16: Cin int16 of scratch for the zero points.
void stage_ip(const Conv2dInt8Args& a, std::size_t Cin4, std::int16_t* xi, std::int32_t* cx,
              std::int16_t* zp16, ThreadPool* pool) {
  const std::size_t C = a.Cin, pixels = a.N * a.H * a.W;
  for (std::size_t c = 0; c < C; ++c) zp16[c] = static_cast<std::int16_t>(a.zp[c]);
  std::memset(static_cast<void*>(xi + pixels * Cin4), 0, (kTileIP - 1) * Cin4 * sizeof(std::int16_t));
  for (std::size_t i = 0; i + 1 < kTileIP; ++i) cx[pixels + i] = 0;
  const bool is_unsigned = a.x_unsigned;
  const auto* const x = static_cast<const std::uint8_t*>(a.x);
  const std::int16_t* const z = zp16;
  parallel_ranges(pool, pixels, [=](std::size_t i0, std::size_t i1) {
    const auto vec = [=](auto unsigned_input) {
      constexpr bool kU = decltype(unsigned_input)::value;
      const __m256i order = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15,
                                             0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15);
      for (std::size_t i = i0; i < i1; ++i) {
        __m256i sum = _mm256_setzero_si256();
        for (std::size_t c = 0; c < C; c += 16) {
          const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i * C + c));
          const __m256i w = kU ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b);
          const __m256i v = _mm256_sub_epi16(w, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + c)));
          sum = _mm256_add_epi32(sum, _mm256_madd_epi16(v, _mm256_srli_epi32(v, 16)));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(xi + i * Cin4 + c), _mm256_shuffle_epi8(v, order));
        }
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
        cx[i] = _mm_cvtsi128_si32(h);
      }
    };
    if (C % 16 == 0) {
      if (is_unsigned) {
        vec(std::true_type{});
      } else {
        vec(std::false_type{});
      }
      return;
    }
    constexpr std::size_t kPos[4] = {0, 2, 1, 3};
    for (std::size_t i = i0; i < i1; ++i) {
      std::uint32_t sum = 0, prev = 0;
      for (std::size_t c = 0; c < Cin4; ++c) {
        std::int32_t v = 0;
        if (c < C) {
          v = (is_unsigned ? static_cast<std::int32_t>(x[i * C + c])
                           : static_cast<std::int32_t>(static_cast<std::int8_t>(x[i * C + c]))) - z[c];
        }
        xi[i * Cin4 + (c & ~std::size_t{3}) + kPos[c & 3]] = static_cast<std::int16_t>(v);
        if (c % 2 == 1) sum += prev * static_cast<std::uint32_t>(v);
        prev = static_cast<std::uint32_t>(v);
      }
      cx[i] = static_cast<std::int32_t>(sum);
    }
  });
}

// The pair layout. A kernel row's L = KW*Cin values go in pairs along the row; for odd L and
// KH >= 5 the rows' last values pair vertically instead, (kh, kh + 1) for kh = 0, 2, ... (the
// last of an odd KH with weight 0), read from a small staged array (Packed::vp) as one more
// segment of the tile's loop: ResNet's 7x7x3 stem takes 7*10 + 4 = 74 pairs for its 147 taps
// instead of 7*11 = 77 (1.5-2 % faster on the Zen 4; benchmarks/avx2_stem_bound.cc). For 3x3
// kernels (QuickNet's stem: 14 pairs instead of 15) the extra segment cost more than the pair
// it saves (4 % slower), so KH < 5 keeps a weight-0 slot per row.
struct PairLayout {
  std::size_t J, KV;  // pairs along each kernel row; vertical pairs
};

PairLayout pair_layout(const Conv2dInt8Args& a) {
  const std::size_t L = static_cast<std::size_t>(a.KW) * a.Cin;
  if (L % 2 == 1 && a.KH >= 5) return {L / 2, (static_cast<std::size_t>(a.KH) + 1) / 2};
  return {(L + 1) / 2, 0};
}

// vp (Packed::vp) for the rows r that some output row's vertical pairs read: oh*stride + 2q.
void stage_vertical(const Conv2dInt8Args& a, const std::int16_t* xp, std::size_t Hp,
                    std::size_t Wp, std::size_t Ho, std::size_t Wo, std::size_t KV,
                    std::int32_t* vp) {
  const std::size_t C = a.Cin, L = static_cast<std::size_t>(a.KW) * C;
  const std::size_t row = Wp * C, step = static_cast<std::size_t>(a.stride) * C;
  for (std::size_t n = 0; n < a.N; ++n) {
    for (std::size_t r = 0; r < Hp; ++r) {
      const bool read = a.stride % 2 == 0 ? r % 2 == 0 : true;  // r = oh*stride + 2q
      if (!read || r > (Ho - 1) * a.stride + 2 * (KV - 1)) continue;
      const std::int16_t* top = xp + (n * Hp + r) * row + L - 1;
      const std::int16_t* below = r + 1 < Hp ? top + row : nullptr;
      std::int32_t* out = vp + (n * Hp + r) * Wo;
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const std::uint16_t lo = static_cast<std::uint16_t>(top[ow * step]);
        const std::uint16_t hi = below == nullptr ? 0 : static_cast<std::uint16_t>(below[ow * step]);
        out[ow] = static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) |
                                            (static_cast<std::uint32_t>(hi) << 16));
      }
    }
  }
}

// ---- The 7x7 stride-2 RGB stem by exact integer Winograd along the width ----
//
// With stride 2 a kernel row's 7 taps split by the parity of the input column: the even taps
// (kw = 0, 2, 4, 6) correlate the even columns e_j = d[2j] with g = (w0, w2, w4, w6), the odd
// taps (kw = 1, 3, 5) the odd columns f_j = d[2j + 1] with h = (w1, w3, w5), both at stride 1:
// y[ow] = sum_i g_i e_{ow+i} + sum_i h_i f_{ow+i}. Two output pixels (a tile t: ow = 2t, 2t+1)
// of each take Winograd's F(2,4) (5 products instead of 8, points 0, 1, -1, 2, inf) and F(2,3)
// (4 instead of 6, points 0, 1, -1, inf): 9 instead of 14 products per kernel row and channel.
// The transforms' fractions (1/2, 1/6) all sit in the weights' transform, scaled by 6, so
// every step is integer arithmetic: U = 6 G w (|U| <= 15 * 128 = 1920), V = B^T d (|V| <= 6 *
// 255 = 1530), M_nu = sum_{kh,c} U_nu V_nu (|M| <= 21 * 1536 * 1020 < 2^25), Y = A^T M = 6 *
// (the convolution's sum), exact in int32, and y = Y / 6 + bias exactly ((Y >> 1) times the
// inverse of 3 mod 2^32). Each nu's sum over (kh, c) is the 3x32 tile's vpmaddwd + vpaddd loop
// over 11 pairs (21 values): 99 vpmaddwd per tile and 8 channels against 148 for the direct
// pairs (74 per pixel). On Zen 4 that loop is bound by the vpaddd that go with the vpmaddwd
// (docs/performance.md, "The AVX2 stem by Winograd"), so fewer products is the only way on.
//
// Pairs over (kh, c): pair 3i + c (i = 0..2) = rows (2i, 2i + 1) at channel c; pair 9 = (row 6,
// c 0), (row 6, c 1); pair 10 = (row 6, c 2), 0. The transformed input of staged row pair m
// (padded rows 2m, 2m + 1) is stored per nu and slot as int32 pairs along the tiles,
// wr[m][nu][slot][t]: slots 0..2 = (V[2m][nu][c], V[2m+1][nu][c]), slot 3 = (V[2m][nu][0],
// V[2m][nu][1]), slot 4 = (V[2m][nu][2], 0). Output row oh reads slots 0..2 of m = oh, oh + 1,
// oh + 2 and slots 3, 4 of m = oh + 3.
constexpr std::size_t kWnNu = 9;     // transformed positions: F(2,4) 0..4, F(2,3) 5..8
constexpr std::size_t kWnPairs = 11;  // pairs over (kh, c) per position
constexpr std::size_t kWnSlots = 5;

bool wino_packs(const Conv2dInt8Args& a) {
  return a.KH == 7 && a.KW == 7 && a.Cin == 3 && a.Cout % kTileC == 0;
}

// The stem shapes the Winograd path runs (else the direct tiles): 7x7 stride 2, 3 input
// channels, whole 32-channel blocks, an even output width, int32 out or the requant32 in the
// tile.
bool wino_runs(const Conv2dInt8Args& a, std::size_t Wo) {
  return wino_packs(a) && a.stride == 2 && Wo % 2 == 0 &&
         (a.rq == nullptr || conv2d_int8_requant_in_tile(a));
}

std::size_t wino_weight_elems(const Conv2dInt8Args& a) {
  return wino_packs(a) ? a.Cout / kTileC * kWnNu * kWnPairs * 2 * kTileC : 0;
}

// U[blk][nu][pair][32][2] int16, 6 G w per (kh, c) (see above).
void wino_pack(const Conv2dInt8Args& a, std::int16_t* u) {
  for (std::size_t o = 0; o < a.Cout; ++o) {
    std::int16_t* uo = u + (o / kTileC) * kWnNu * kWnPairs * 2 * kTileC + (o % kTileC) * 2;
    for (std::size_t kh = 0; kh < 7; ++kh) {
      for (std::size_t c = 0; c < 3; ++c) {
        const auto w = [&](std::size_t kw) -> std::int32_t { return a.w[((o * 7 + kh) * 7 + kw) * 3 + c]; };
        const std::int32_t g0 = w(0), g1 = w(2), g2 = w(4), g3 = w(6), h0 = w(1), h1 = w(3), h2 = w(5);
        const std::int32_t un[kWnNu] = {3 * g0,
                                        -3 * (g0 + g1 + g2 + g3),
                                        -g0 + g1 - g2 + g3,
                                        g0 + 2 * g1 + 4 * g2 + 8 * g3,
                                        6 * g3,
                                        -6 * h0,
                                        3 * (h0 + h1 + h2),
                                        3 * (h0 - h1 + h2),
                                        6 * h2};
        // (pair, slot in the pair) of (kh, c)
        const std::size_t pair = kh < 6 ? 3 * (kh / 2) + c : 9 + c / 2;
        const std::size_t half = kh < 6 ? kh % 2 : c % 2;
        for (std::size_t nu = 0; nu < kWnNu; ++nu) {
          uo[(nu * kWnPairs + pair) * 2 * kTileC + half] = static_cast<std::int16_t>(un[nu]);
        }
      }
    }
  }
}

struct WinoInput {
  const std::int32_t* wr;  // [N][Hm][kWnNu][kWnSlots][Tp]
  std::size_t Hm, Tp;
};

std::size_t wino_tiles_padded(std::size_t Wo) { return (Wo / 2 + 7) / 8 * 8; }
// The split row's length: the last 8 tiles read groups up to Tp - 8 + 2 + 7.
std::size_t wino_q_len(std::size_t Tp) { return Tp + 2; }

// q[kk * QL + i] = x[12 i + kk] (kk < 12, i < 8), sign-extended: an 8x8 int16 transpose per
// 128-bit lane of the groups' values 0..7 (low lanes) and 4..11 (high lanes); reads x[0, 96).
inline void split8(const std::int16_t* x, std::int32_t* q, std::size_t QL) {
  __m256i r[8];
  for (int i = 0; i < 8; ++i) {
    const auto* g = reinterpret_cast<const __m128i*>(x + 12 * i);
    r[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(g)),
                                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 12 * i + 4)), 1);
  }
  __m256i a[8], b[8];
  for (int i = 0; i < 4; ++i) {
    a[2 * i] = _mm256_unpacklo_epi16(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm256_unpackhi_epi16(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h + 3: a[4h .. 4h + 3]
    b[4 * h] = _mm256_unpacklo_epi32(a[4 * h], a[4 * h + 2]);
    b[4 * h + 1] = _mm256_unpackhi_epi32(a[4 * h], a[4 * h + 2]);
    b[4 * h + 2] = _mm256_unpacklo_epi32(a[4 * h + 1], a[4 * h + 3]);
    b[4 * h + 3] = _mm256_unpackhi_epi32(a[4 * h + 1], a[4 * h + 3]);
  }
  const auto st = [&](std::size_t kk, __m128i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + kk * QL), _mm256_cvtepi16_epi32(v));
  };
  for (int j = 0; j < 4; ++j) {  // c[2j], c[2j + 1]: values 2j, 2j + 1 (high lanes: + 4)
    const __m256i lo = _mm256_unpacklo_epi64(b[j], b[4 + j]);
    const __m256i hi = _mm256_unpackhi_epi64(b[j], b[4 + j]);
    st(2 * j, _mm256_castsi256_si128(lo));
    st(2 * j + 1, _mm256_castsi256_si128(hi));
    if (j >= 2) {
      st(2 * j + 4, _mm256_extracti128_si256(lo, 1));
      st(2 * j + 5, _mm256_extracti128_si256(hi, 1));
    }
  }
}

// The transformed rows 2m, 2m + 1 of image n into wr[n][m] (see above). q: scratch of
// 12 * wino_q_len(Tp) int32 (a row split by column % 4 and channel), v: 2 * 9 * 3 * Tp int32.
void wino_stage_pair(const std::int16_t* xp, std::size_t Hp, std::size_t Wp, std::size_t row0,
                     std::size_t Tp, std::int32_t* q, std::int32_t* v, std::int32_t* out) {
  const std::size_t QL = wino_q_len(Tp);
  for (std::size_t h = 0; h < 2; ++h) {
    const std::size_t r = row0 + h;
    std::int32_t* vh = v + h * kWnNu * 3 * Tp;
    if (r >= Hp) {
      std::memset(static_cast<void*>(vh), 0, kWnNu * 3 * Tp * sizeof(std::int32_t));
      continue;
    }
    // q[k][t] = xr[12 t + k] (k = 3 * (column % 4) + c), one pass over the row's whole
    // groups of 4 pixels, then the last partial group, zeros after it.
    const std::int16_t* xr = xp + r * Wp * 3;
    const std::size_t whole = Wp / 4 < QL ? Wp / 4 : QL;
    std::size_t t = 0;
    for (; t + 8 <= whole; t += 8) split8(xr + 12 * t, q + t, QL);
    for (; t < whole; ++t) {
      for (std::size_t kk = 0; kk < 12; ++kk) q[kk * QL + t] = xr[12 * t + kk];
    }
    for (std::size_t kk = 0; kk < 12; ++kk) {
      for (std::size_t t = whole; t < QL; ++t) {
        q[kk * QL + t] = 12 * t + kk < Wp * 3 ? xr[12 * t + kk] : 0;
      }
    }
    for (std::size_t c = 0; c < 3; ++c) {
      const std::int32_t* q0 = q + c * QL;
      const std::int32_t* q1 = q + (3 + c) * QL;
      const std::int32_t* q2 = q + (6 + c) * QL;
      const std::int32_t* q3 = q + (9 + c) * QL;
      const auto ld = [](const std::int32_t* p) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      };
      for (std::size_t t = 0; t < Tp; t += 8) {
        // even columns 4t + 2i: e0..e4; odd 4t + 2i + 1: f0..f3
        const __m256i e0 = ld(q0 + t), e1 = ld(q2 + t), e2 = ld(q0 + t + 1), e3 = ld(q2 + t + 1),
                      e4 = ld(q0 + t + 2);
        const __m256i f0 = ld(q1 + t), f1 = ld(q3 + t), f2 = ld(q1 + t + 1), f3 = ld(q3 + t + 1);
        const __m256i e1x2 = _mm256_add_epi32(e1, e1);
        const __m256i d31 = _mm256_sub_epi32(e3, e1);
        const __m256i vv[kWnNu] = {
            // 2e0 - e1 - 2e2 + e3
            _mm256_add_epi32(_mm256_slli_epi32(_mm256_sub_epi32(e0, e2), 1), d31),
            // -2e1 - e2 + e3
            _mm256_sub_epi32(_mm256_sub_epi32(e3, e2), e1x2),
            // 2e1 - 3e2 + e3
            _mm256_add_epi32(_mm256_sub_epi32(e1x2, _mm256_add_epi32(e2, _mm256_add_epi32(e2, e2))), e3),
            // -e1 + e3
            d31,
            // 2e1 - e2 - 2e3 + e4
            _mm256_add_epi32(_mm256_sub_epi32(_mm256_slli_epi32(_mm256_sub_epi32(e1, e3), 1), e2), e4),
            _mm256_sub_epi32(f2, f0), _mm256_add_epi32(f1, f2), _mm256_sub_epi32(f2, f1),
            _mm256_sub_epi32(f3, f1)};
        for (std::size_t nu = 0; nu < kWnNu; ++nu) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(vh + (nu * 3 + c) * Tp + t), vv[nu]);
        }
      }
    }
  }
  const __m256i lo = _mm256_set1_epi32(0xFFFF);
  for (std::size_t nu = 0; nu < kWnNu; ++nu) {
    const std::int32_t* a0 = v + nu * 3 * Tp;                      // row 2m, channel 0
    const std::int32_t* b0 = v + kWnNu * 3 * Tp + nu * 3 * Tp;     // row 2m + 1
    std::int32_t* o = out + nu * kWnSlots * Tp;
    for (std::size_t t = 0; t < Tp; t += 8) {
      const auto ld = [&](const std::int32_t* p) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + t));
      };
      const auto st = [&](std::size_t slot, __m256i x) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + slot * Tp + t), x);
      };
      const auto pair = [&](__m256i x, __m256i y) {
        return _mm256_or_si256(_mm256_and_si256(x, lo), _mm256_slli_epi32(y, 16));
      };
      const __m256i a_0 = ld(a0), a_1 = ld(a0 + Tp), a_2 = ld(a0 + 2 * Tp);
      st(0, pair(a_0, ld(b0)));
      st(1, pair(a_1, ld(b0 + Tp)));
      st(2, pair(a_2, ld(b0 + 2 * Tp)));
      st(3, pair(a_0, a_1));
      st(4, _mm256_and_si256(a_2, lo));
    }
  }
}

// M_nu of P tiles x 32 channels, the 11 pair steps in registers (inline asm: GCC's allocation
// of the intrinsic loop kept accumulators on the stack, 1.54-2.0 ms against 1.39 for the direct
// stem): per step the pair's 4 weight vectors (2 in registers, 2 as memory operands) and one
// broadcast of each tile's (int16, int16) pair, 4 vpmaddwd + 4 vpaddd per tile (the first step
// multiplies into the accumulators). Pair j's input: segment b0..b3 (pairs 0-2, 3-5, 6-8, 9-10),
// j's place in it times t bytes; its weights at w + 128 j bytes. Stores the accumulators to m
// ([P][4][8] int32).
#define BNNFLOW_WN_W(WO) "vmovdqa " WO "(%[w]), %%ymm0\n\tvmovdqa " WO "+32(%[w]), %%ymm1\n\t"
#define BNNFLOW_WN_PX(XA, WO, A0, A1, A2, A3)                                            \
  "vpbroadcastd " XA ", %%ymm2\n\t"                                                      \
  "vpmaddwd %%ymm0, %%ymm2, %%ymm3\n\tvpaddd %%ymm3, %%ymm" A0 ", %%ymm" A0 "\n\t"      \
  "vpmaddwd %%ymm1, %%ymm2, %%ymm3\n\tvpaddd %%ymm3, %%ymm" A1 ", %%ymm" A1 "\n\t"      \
  "vpmaddwd " WO "+64(%[w]), %%ymm2, %%ymm3\n\tvpaddd %%ymm3, %%ymm" A2 ", %%ymm" A2 "\n\t" \
  "vpmaddwd " WO "+96(%[w]), %%ymm2, %%ymm2\n\tvpaddd %%ymm2, %%ymm" A3 ", %%ymm" A3 "\n\t"
#define BNNFLOW_WN_PX0(XA, WO, A0, A1, A2, A3)                                           \
  "vpbroadcastd " XA ", %%ymm2\n\t"                                                      \
  "vpmaddwd %%ymm0, %%ymm2, %%ymm" A0 "\n\tvpmaddwd %%ymm1, %%ymm2, %%ymm" A1 "\n\t"    \
  "vpmaddwd " WO "+64(%[w]), %%ymm2, %%ymm" A2 "\n\t"                                   \
  "vpmaddwd " WO "+96(%[w]), %%ymm2, %%ymm" A3 "\n\t"
// One step for 1, 2 or 3 tiles (accumulators ymm12-15, ymm8-15, ymm4-15).
#define BNNFLOW_WN_S1(PX, WO, B, I) BNNFLOW_WN_W(WO) PX("0(" B I ")", WO, "12", "13", "14", "15")
#define BNNFLOW_WN_S2(PX, WO, B, I) \
  BNNFLOW_WN_W(WO) PX("0(" B I ")", WO, "8", "9", "10", "11") PX("4(" B I ")", WO, "12", "13", "14", "15")
#define BNNFLOW_WN_S3(PX, WO, B, I)                                                            \
  BNNFLOW_WN_W(WO) PX("0(" B I ")", WO, "4", "5", "6", "7") PX("4(" B I ")", WO, "8", "9", "10", "11") \
      PX("8(" B I ")", WO, "12", "13", "14", "15")
#define BNNFLOW_WN_ALL(S)                                                                      \
  S(BNNFLOW_WN_PX0, "0", "%[b0]", "") S(BNNFLOW_WN_PX, "128", "%[b0]", ",%[t],1")              \
  S(BNNFLOW_WN_PX, "256", "%[b0]", ",%[t],2") S(BNNFLOW_WN_PX, "384", "%[b1]", "")             \
  S(BNNFLOW_WN_PX, "512", "%[b1]", ",%[t],1") S(BNNFLOW_WN_PX, "640", "%[b1]", ",%[t],2")      \
  S(BNNFLOW_WN_PX, "768", "%[b2]", "") S(BNNFLOW_WN_PX, "896", "%[b2]", ",%[t],1")             \
  S(BNNFLOW_WN_PX, "1024", "%[b2]", ",%[t],2") S(BNNFLOW_WN_PX, "1152", "%[b3]", "")           \
  S(BNNFLOW_WN_PX, "1280", "%[b3]", ",%[t],1")
#define BNNFLOW_WN_ST(R, O) "vmovdqa %%ymm" R ", " O "(%[m])\n\t"
#define BNNFLOW_WN_ST4(R0, R1, R2, R3, O0, O1, O2, O3) \
  BNNFLOW_WN_ST(R0, O0) BNNFLOW_WN_ST(R1, O1) BNNFLOW_WN_ST(R2, O2) BNNFLOW_WN_ST(R3, O3)
#define BNNFLOW_WN_ARGS                                                                         \
  : [b0] "r"(b0), [b1] "r"(b1), [b2] "r"(b2), [b3] "r"(b3), [t] "r"(t), [w] "r"(w), [m] "r"(m) \
  : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",   \
    "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory"

template <int P>
inline void wino_nu(const std::int32_t* b0, const std::int32_t* b1, const std::int32_t* b2,
                    const std::int32_t* b3, std::size_t t, const std::int16_t* w, std::int32_t* m) {
  if constexpr (P == 3) {
    asm volatile(BNNFLOW_WN_ALL(BNNFLOW_WN_S3)
                 BNNFLOW_WN_ST4("4", "5", "6", "7", "0", "32", "64", "96")
                 BNNFLOW_WN_ST4("8", "9", "10", "11", "128", "160", "192", "224")
                 BNNFLOW_WN_ST4("12", "13", "14", "15", "256", "288", "320", "352")
                 : BNNFLOW_WN_ARGS);
  } else if constexpr (P == 2) {
    asm volatile(BNNFLOW_WN_ALL(BNNFLOW_WN_S2)
                 BNNFLOW_WN_ST4("8", "9", "10", "11", "0", "32", "64", "96")
                 BNNFLOW_WN_ST4("12", "13", "14", "15", "128", "160", "192", "224")
                 : BNNFLOW_WN_ARGS);
  } else {
    static_assert(P == 1, "wino_nu: 1 to 3 tiles");
    asm volatile(BNNFLOW_WN_ALL(BNNFLOW_WN_S1)
                 BNNFLOW_WN_ST4("12", "13", "14", "15", "0", "32", "64", "96")
                 : BNNFLOW_WN_ARGS);
  }
}
#undef BNNFLOW_WN_ARGS
#undef BNNFLOW_WN_ST4
#undef BNNFLOW_WN_ST
#undef BNNFLOW_WN_ALL
#undef BNNFLOW_WN_S3
#undef BNNFLOW_WN_S2
#undef BNNFLOW_WN_S1
#undef BNNFLOW_WN_PX0
#undef BNNFLOW_WN_PX
#undef BNNFLOW_WN_W

// P tiles (2P output pixels from ow = 2 t0) x 32 channels of output row (n, oh): the 9
// positions' 11-pair sums, then A^T, / 6, + bias, int32 or requantised int8 stores.
template <int P>
void wino_tile(const Conv2dInt8Args& a, const Packed& k, const WinoInput& wi, const std::int16_t* u,
               std::size_t n, std::size_t oh, std::size_t t0, std::size_t co, std::int32_t* y,
               std::int8_t* y8) {
  alignas(32) std::int32_t m[kWnNu][P][kTileC];
  const std::size_t Tp = wi.Tp, mstride = kWnNu * kWnSlots * Tp;
  const std::int32_t* base = wi.wr + (n * wi.Hm + oh) * mstride + t0;
  const std::int16_t* ub = u + (co / kTileC) * kWnNu * kWnPairs * 2 * kTileC;
  const std::size_t tb = Tp * sizeof(std::int32_t);
  for (std::size_t nu = 0; nu < kWnNu; ++nu) {
    const std::int32_t* b0 = base + nu * kWnSlots * Tp;
    wino_nu<P>(b0, b0 + mstride, b0 + 2 * mstride, b0 + 3 * mstride + 3 * Tp, tb,
               ub + nu * kWnPairs * 2 * kTileC, &m[nu][0][0]);
  }
  // Y0 = M0 + M1 + M2 + M3 + M5 + M6 + M7, Y1 = M1 - M2 + 2 M3 + M4 + M6 - M7 + M8.
  const __m256i inv3 = _mm256_set1_epi32(static_cast<std::int32_t>(0xAAAAAAABu));
  __m256i out[2 * P][kNV];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < kNV; ++v) {
      const auto ld = [&](std::size_t nu) {
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(m[nu][p] + 8 * v));
      };
      const __m256i m1 = ld(1), m2 = ld(2), m3 = ld(3), m6 = ld(6), m7 = ld(7);
      const __m256i s12 = _mm256_add_epi32(m1, m2), d12 = _mm256_sub_epi32(m1, m2);
      const __m256i s67 = _mm256_add_epi32(m6, m7), d67 = _mm256_sub_epi32(m6, m7);
      const __m256i y0 = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(ld(0), s12),
                                                           _mm256_add_epi32(m3, ld(5))), s67);
      const __m256i y1 = _mm256_add_epi32(
          _mm256_add_epi32(_mm256_add_epi32(d12, _mm256_add_epi32(m3, m3)), ld(4)),
          _mm256_add_epi32(d67, ld(8)));
      const __m256i bias = _mm256_load_si256(reinterpret_cast<const __m256i*>(k.bias + co + 8 * v));
      out[2 * p][v] = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_srai_epi32(y0, 1), inv3), bias);
      out[2 * p + 1][v] = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_srai_epi32(y1, 1), inv3), bias);
    }
  }
  const std::size_t cout = a.Cout;
  if (y8 != nullptr) {
    const Rq32Lanes* t = k.rq_tab + co / 8;
    const auto store = [&](auto mode) {
      constexpr Rq32Mode kMode = decltype(mode)::value;
      for (int p = 0; p < 2 * P; ++p) {
        for (int v = 0; v < kNV; ++v) out[p][v] = rq32p_apply<kMode>(out[p][v], t[v]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y8 + p * cout + co),
                            rq32p_pack32(out[p][0], out[p][1], out[p][2], out[p][3]));
      }
    };
    if (a.rq->prep->mode == Rq32Mode::kHigh32) {
      store(ModeTag<Rq32Mode::kHigh32>{});
    } else {
      store(ModeTag<Rq32Mode::kInt32>{});
    }
    return;
  }
  for (int p = 0; p < 2 * P; ++p) {
    for (int v = 0; v < kNV; ++v) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + p * cout + co + 8 * v), out[p][v]);
    }
  }
}

// Output row (n, oh), channels [co, co + 32): tiles of 3 (6 pixels), then one of the 1 or 2 left.
void wino_row(const Conv2dInt8Args& a, const Packed& k, const WinoInput& wi, const std::int16_t* u,
              std::size_t n, std::size_t oh, std::size_t co, std::size_t Wo, std::int32_t* yrow,
              std::int8_t* y8row) {
  const std::size_t T = Wo / 2;
  const auto at = [&](std::size_t t) { return yrow == nullptr ? nullptr : yrow + 2 * t * a.Cout; };
  const auto at8 = [&](std::size_t t) { return y8row == nullptr ? nullptr : y8row + 2 * t * a.Cout; };
  std::size_t t = 0;
  for (; t + 3 <= T; t += 3) wino_tile<3>(a, k, wi, u, n, oh, t, co, at(t), at8(t));
  if (T - t == 2) wino_tile<2>(a, k, wi, u, n, oh, t, co, at(t), at8(t));
  if (T - t == 1) wino_tile<1>(a, k, wi, u, n, oh, t, co, at(t), at8(t));
}

}  // namespace

// Packed bytes: bias int32 [CoP], then weights int16 [CoP / 32][PB][32][2] (pair_layout; PB =
// KH*J + KV pairs per 32-channel block: pair kh*J + j = (w[o,kh,2j], w[o,kh,2j+1]), an odd
// row's last slot 0 when KV = 0, and pair KH*J + q = (kh = 2q, 2q + 1)'s last values). A block's
// weights are one contiguous run that every tile reads front to back. (A [pair][CoP] layout
// puts a block's pairs CoP*4 bytes apart: for CoP = 512 all of them in 4 of the L1's 64 sets.)
// A 1x1 kernel with Cout % 32 = 0 also gets the inner-product form's corrected bias (int32
// [CoP]) and weights (int16 [CoP / 16][Cin4 / 4][4][8][2], ip_tile) after them, used when it
// runs flat (flat_1x1: stride 1, no padding). Packing sees no stride or padding (conv_int8.h).
bool ip_packs(const Conv2dInt8Args& a) {
  return a.KH == 1 && a.KW == 1 && a.Cout % kTileC == 0;
}

std::size_t ip_cin4(const Conv2dInt8Args& a) { return (a.Cin + 3) / 4 * 4; }

std::size_t ip_elems(const Conv2dInt8Args& a) {  // int16 elements
  return ip_packs(a) ? a.Cout * 2 + a.Cout * ip_cin4(a) : 0;
}

void ip_pack(const Conv2dInt8Args& a, std::int16_t* dst) {
  auto* const ib = reinterpret_cast<std::int32_t*>(dst);
  std::int16_t* const iw = dst + a.Cout * 2;
  const std::size_t C = a.Cin, Cin4 = ip_cin4(a), Q = Cin4 / 4;
  for (std::size_t o = 0; o < a.Cout; ++o) {
    const auto w = [&](std::size_t c) -> std::int32_t { return c < C ? a.w[o * C + c] : 0; };
    std::uint32_t ww = 0;
    for (std::size_t c = 0; c < Cin4; c += 2) {
      ww += static_cast<std::uint32_t>(w(c) * w(c + 1));
    }
    ib[o] = static_cast<std::int32_t>(static_cast<std::uint32_t>(a.bias[o]) - ww);
    const std::size_t vec = o % 16 < 8 ? 0 : 2, lane = (o % 8) * 2;
    for (std::size_t q = 0; q < Q; ++q) {
      std::int16_t* step = iw + ((o / 16) * Q + q) * 64;
      step[vec * 16 + lane] = static_cast<std::int16_t>(w(4 * q + 1));
      step[vec * 16 + lane + 1] = static_cast<std::int16_t>(w(4 * q + 3));
      step[(vec + 1) * 16 + lane] = static_cast<std::int16_t>(w(4 * q));
      step[(vec + 1) * 16 + lane + 1] = static_cast<std::int16_t>(w(4 * q + 2));
    }
  }
}

std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a) {
  const PairLayout l = pair_layout(a);
  const std::size_t CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  return CoP * sizeof(std::int32_t) +
         ((static_cast<std::size_t>(a.KH) * l.J + l.KV) * CoP * 2 + wino_weight_elems(a) +
          ip_elems(a)) *
             sizeof(std::int16_t);
}

void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed) {
  const PairLayout l = pair_layout(a);
  const std::size_t CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  const std::size_t KH = static_cast<std::size_t>(a.KH), L = static_cast<std::size_t>(a.KW) * a.Cin;
  const std::size_t PB = KH * l.J + l.KV;
  auto* bias = static_cast<std::int32_t*>(packed);
  for (std::size_t o = 0; o < a.Cout; ++o) bias[o] = a.bias[o];
  auto* w = reinterpret_cast<std::int16_t*>(bias + CoP);
  for (std::size_t o = 0; o < a.Cout; ++o) {
    std::int16_t* wo = w + (o / kTileC) * PB * 2 * kTileC + (o % kTileC) * 2;
    const auto at = [&](std::size_t pair, std::size_t t) -> std::int16_t& {
      return wo[pair * 2 * kTileC + t];
    };
    for (std::size_t kh = 0; kh < KH; ++kh) {
      const std::int8_t* src = a.w + (o * KH + kh) * L;
      for (std::size_t j = 0; j < l.J; ++j) {
        at(kh * l.J + j, 0) = src[2 * j];
        if (2 * j + 1 < L) at(kh * l.J + j, 1) = src[2 * j + 1];  // else the zeroed slot
      }
      if (l.KV > 0) at(KH * l.J + kh / 2, kh % 2) = src[L - 1];  // (kh, kh + 1) share pair kh / 2
    }
  }
  // A 7x7 RGB kernel also gets the Winograd weights (used at stride 2, wino_runs), after the
  // direct ones.
  if (wino_packs(a)) wino_pack(a, w + PB * CoP * 2);
  if (ip_packs(a)) ip_pack(a, w + PB * CoP * 2 + wino_weight_elems(a));
}

void conv2d_int8(const Conv2dInt8Args& a, ThreadPool* pool) {
  GlueBuffer<std::uint8_t> packed(conv2d_int8_packed_bytes(a));
  conv2d_int8_pack(a, packed.data());
  conv2d_int8_packed(a, packed.data(), pool);
}

void conv2d_int8_packed(const Conv2dInt8Args& a, const void* packed, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right);
  Packed k;
  k.Hp = a.H + a.pad_top + a.pad_bottom;
  k.Wp = a.W + a.pad_left + a.pad_right;
  const PairLayout l = pair_layout(a);
  k.J = l.J;
  k.KV = l.KV;
  k.Wo = Wo;
  k.CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  k.PB = static_cast<std::size_t>(a.KH) * k.J + k.KV;

  // Staging memory: xp (+ 2 zeroed int16 of slack), the zero-point row, the vertical pairs
  // (stage_vertical writes every row a tile reads).
  const std::size_t staged = a.N * k.Hp * k.Wp * a.Cin;
  const std::size_t xp_bytes = round64((staged + 2) * sizeof(std::int16_t));
  const std::size_t zr_bytes = round64(a.W * a.Cin * sizeof(std::int16_t));
  const std::size_t vp_bytes = round64((k.KV == 0 ? 0 : a.N * k.Hp * Wo) * sizeof(std::int32_t));
  const bool in_tile = conv2d_int8_requant_in_tile(a);
  const std::size_t tab_bytes = in_tile ? a.Cout / 8 * sizeof(Rq32Lanes) : 0;
  const bool wino = wino_runs(a, Wo);
  WinoInput wi{nullptr, Ho + 3, wino_tiles_padded(Wo)};
  const std::size_t wr_bytes =
      wino ? round64(a.N * wi.Hm * kWnNu * kWnSlots * wi.Tp * sizeof(std::int32_t)) : 0;
  // One per-thread buffer kept between calls (a band chain calls the kernel once per band: no
  // allocation and no zeroing of it per call); the pool's threads only read it.
  // A flat 1x1 runs the inner-product form (ip_tile) on its own staging instead of xp.
  const std::size_t pixels = a.N * a.H * a.W;
  const bool ip = flat_1x1(a) && pixels >= kIpMinPixels;
  k.Cin4 = ip ? ip_cin4(a) : 0;
  const std::size_t xi_bytes =
      ip ? round64((pixels + kTileIP - 1) * k.Cin4 * sizeof(std::int16_t)) : 0;
  const std::size_t cx_bytes = ip ? round64((pixels + kTileIP - 1) * sizeof(std::int32_t)) : 0;
  ThreadScratch<1> staging;
  std::uint8_t* const mem = staging.scratch(
      0, (ip ? 0 : xp_bytes) + zr_bytes + vp_bytes + tab_bytes + wr_bytes + xi_bytes + cx_bytes);
  auto* const xp = reinterpret_cast<std::int16_t*>(mem);
  if (ip) {
    auto* const xi = reinterpret_cast<std::int16_t*>(mem + zr_bytes + vp_bytes + tab_bytes + wr_bytes);
    auto* const cx = reinterpret_cast<std::int32_t*>(reinterpret_cast<std::uint8_t*>(xi) + xi_bytes);
    stage_ip(a, k.Cin4, xi, cx, reinterpret_cast<std::int16_t*>(mem), pool);
    k.xi = xi;
    k.cx = cx;
    const std::int16_t* const ipw =
        reinterpret_cast<const std::int16_t*>(static_cast<const std::int32_t*>(packed) + k.CoP) +
        k.PB * k.CoP * 2;  // a 1x1 has no Winograd weights
    k.ib = reinterpret_cast<const std::int32_t*>(ipw);
    k.iw = ipw + a.Cout * 2;
  } else {
    zero_border(a, xp, k.Hp, k.Wp, 2);
    stage_int16(a, xp, k.Hp, k.Wp, reinterpret_cast<std::int16_t*>(mem + xp_bytes), pool);
  }
  const std::size_t xp_off = ip ? 0 : xp_bytes;  // where the buffers after xp start

  k.xp = xp;
  auto* const vp = reinterpret_cast<std::int32_t*>(mem + xp_off + zr_bytes);
  if (k.KV > 0 && !wino) stage_vertical(a, xp, k.Hp, k.Wp, Ho, Wo, k.KV, vp);
  k.vp = k.KV == 0 ? nullptr : vp;
  k.bias = static_cast<const std::int32_t*>(packed);
  k.wp = reinterpret_cast<const std::int16_t*>(k.bias + k.CoP);

  if (in_tile) {
    auto* const rq_tab = reinterpret_cast<Rq32Lanes*>(mem + xp_off + zr_bytes + vp_bytes);
    const PreparedRequant32& rp = *a.rq->prep;
    for (std::size_t v = 0; v < a.Cout / 8; ++v) {
      rq_tab[v] = rp.mode == Rq32Mode::kHigh32 ? rq32p_lanes_at<Rq32Mode::kHigh32>(rp, 8 * v, 4 * v)
                                                : rq32p_lanes_at<Rq32Mode::kInt32>(rp, 8 * v, 4 * v);
    }
    k.rq_tab = rq_tab;
  }
  if (wino) {
    auto* const wr = reinterpret_cast<std::int32_t*>(mem + xp_off + zr_bytes + vp_bytes + tab_bytes);
    const std::size_t Tp = wi.Tp, rec = kWnNu * kWnSlots * Tp;
    parallel_ranges(pool, a.N * wi.Hm, [&](std::size_t r0, std::size_t r1) {
      // The staging's split rows in a per-thread buffer kept between calls (a band chain calls
      // once per band; ~15 KB for the 224x224 stem): no allocation and no zeroing per worker
      // range. ThreadScratch<2> is another thread_local set than the caller's ThreadScratch<1>
      // (`staging`, still in use): this guard's trim never frees `mem`.
      ThreadScratch<2> split;
      auto* const scratch = reinterpret_cast<std::int32_t*>(
          split.scratch(1, (12 * wino_q_len(Tp) + 2 * kWnNu * 3 * Tp) * sizeof(std::int32_t)));
      for (std::size_t r = r0; r < r1; ++r) {
        const std::size_t n = r / wi.Hm, m = r % wi.Hm;
        wino_stage_pair(xp + n * k.Hp * k.Wp * 3, k.Hp, k.Wp, 2 * m, Tp, scratch,
                        scratch + 12 * wino_q_len(Tp), wr + r * rec);
      }
    });
    wi.wr = wr;
    const std::int16_t* const u = k.wp + k.PB * k.CoP * 2;
    if (in_tile) {
      conv_int8_rows_in_tile(a, Ho, Wo, kTileC, pool, [&](std::size_t n, std::size_t oh,
                                                          std::size_t co, std::int8_t* y8row) {
        wino_row(a, k, wi, u, n, oh, co, Wo, nullptr, y8row);
      });
    } else {
      conv_int8_rows(a, Ho, Wo, kTileC, pool, [&](std::size_t n, std::size_t oh, std::size_t co,
                                                  std::int32_t* yrow) {
        wino_row(a, k, wi, u, n, oh, co, Wo, yrow, nullptr);
      });
    }
    return;
  }
  if (flat_1x1(a)) {
    flat_units(a, k, a.N * Ho * Wo, pool);
    return;
  }
  // Channel-block-major units without fused requant (conv_int8_rows): one thread keeps a
  // block's weights in cache across consecutive rows (large 1x1 convolutions are weight-bound).
  // With the requant32 in the tile (whole 16-channel blocks) the same units write int8 rows.
  if (in_tile) {
    conv_int8_rows_in_tile(a, Ho, Wo, kTileC, pool, [&](std::size_t n, std::size_t oh, std::size_t co,
                                                        std::int8_t* y8row) {
      if (a.Cout - co <= kTileC / 2) {
        row16(a, k, n, oh, co, Wo, nullptr, y8row);
      } else {
        row32(a, k, n, oh, co, Wo, nullptr, y8row);
      }
    });
    return;
  }
  conv_int8_rows(a, Ho, Wo, kTileC, pool, [&](std::size_t n, std::size_t oh, std::size_t co,
                                              std::int32_t* yrow) {
    if (a.Cout - co <= kTileC / 2) {
      row16(a, k, n, oh, co, Wo, yrow);
    } else {
      row32(a, k, n, oh, co, Wo, yrow, nullptr);
    }
  });
}

bool conv2d_int8_requant_in_tile(const Conv2dInt8Args& a) {
  return a.rq != nullptr && a.rq->prep != nullptr && a.rq->prep->mode != Rq32Mode::kInt64 &&
         a.Cout % (kTileC / 2) == 0;
}

}  // namespace bnnflow::glue::avx2
