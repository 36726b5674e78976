// AVX2 conv2d_int8: direct convolution, output channels across lanes, register tile of
// 3 output pixels x 32 output channels (12 accumulators; 4x16, 2x32, 6x16 measured no faster).
//
// Exact scheme (vpmaddubsw would saturate int16): the input is staged once as int16
// (x - zp) with a zero border, so the KW*Cin values of one kernel row are contiguous; they
// are consumed in pairs: one broadcast 32-bit load of (d[k], d[k+1]) times packed int16
// weights (w[o,k], w[o,k+1]) per lane, vpmaddwd -> int32, vpaddd. |d| <= 255, |w| <= 128, so
// each pair sum is exact; an odd row length pairs its last value with weight 0.
#include <immintrin.h>

#include "kernels/conv_int8/conv_int8.h"
#include "kernels/glue_common/conv_prep.h"

namespace bnnflow::glue::avx2 {
namespace {

constexpr int kTileP = 3;  // output pixels per tile
constexpr int kNV = 4;     // ymm vectors of 8 output channels per tile
constexpr std::size_t kTileC = 8 * kNV;

struct Packed {
  const std::int16_t* xp;  // staged input [N][Hp][Wp][Cin]
  const std::int16_t* wp;  // [KH][J][CoP][2]
  const std::int32_t* bias;  // [CoP]
  std::size_t Hp, Wp, J, CoP;
};

template <int P>
void tile(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh, std::size_t ow,
          std::size_t co, std::int32_t* y) {
  __m256i acc[P][kNV];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < kNV; ++v) {
      acc[p][v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(k.bias + co + 8 * v));
    }
  }
  const std::size_t pix = static_cast<std::size_t>(a.stride) * a.Cin;
  for (int kh = 0; kh < a.KH; ++kh) {
    const std::int16_t* xr = k.xp + ((n * k.Hp + oh * a.stride + kh) * k.Wp + ow * a.stride) * a.Cin;
    const std::int16_t* wr = k.wp + (static_cast<std::size_t>(kh) * k.J * k.CoP + co) * 2;
    for (std::size_t j = 0; j < k.J; ++j) {
      __m256i w[kNV];
      for (int v = 0; v < kNV; ++v) {
        w[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(wr + j * k.CoP * 2 + 16 * v));
      }
      for (int p = 0; p < P; ++p) {
        std::int32_t pair;
        std::memcpy(&pair, xr + p * pix + 2 * j, 4);
        const __m256i b = _mm256_set1_epi32(pair);
        for (int v = 0; v < kNV; ++v) {
          acc[p][v] = _mm256_add_epi32(acc[p][v], _mm256_madd_epi16(b, w[v]));
        }
      }
    }
  }
  const std::size_t valid = a.Cout - co < kTileC ? a.Cout - co : kTileC;
  for (int p = 0; p < P; ++p) {
    std::int32_t* yp = y + p * a.Cout + co;
    if (valid == kTileC) {
      for (int v = 0; v < kNV; ++v) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + 8 * v), acc[p][v]);
      }
    } else {
      alignas(32) std::int32_t tmp[kTileC];
      for (int v = 0; v < kNV; ++v) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8 * v), acc[p][v]);
      }
      std::memcpy(yp, tmp, valid * sizeof(std::int32_t));
    }
  }
}

}  // namespace

// Packed bytes: bias int32 [CoP], then weights int16 [KH][J][CoP][2].
std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a) {
  const std::size_t J = (static_cast<std::size_t>(a.KW) * a.Cin + 1) / 2;
  const std::size_t CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  return CoP * sizeof(std::int32_t) + static_cast<std::size_t>(a.KH) * J * CoP * 2 * sizeof(std::int16_t);
}

void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed) {
  const std::size_t CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  auto* bias = static_cast<std::int32_t*>(packed);
  for (std::size_t o = 0; o < a.Cout; ++o) bias[o] = a.bias[o];
  pack_weights<2>(reinterpret_cast<std::int16_t*>(bias + CoP), a.w, a.Cout, a.KH,
                  static_cast<std::size_t>(a.KW) * a.Cin, CoP);
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
  const std::size_t L = static_cast<std::size_t>(a.KW) * a.Cin;
  k.J = (L + 1) / 2;
  k.CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;

  GlueBuffer<std::int16_t> xp(a.N * k.Hp * k.Wp * a.Cin + 2);
  if (a.x_unsigned) {
    const auto* x = static_cast<const std::uint8_t*>(a.x);
    stage_interior(xp.data(), x, a.zp, a.N, a.H, a.W, a.Cin, a.pad_top, a.pad_left, k.Hp,
                   k.Wp, pool);
  } else {
    const auto* x = static_cast<const std::int8_t*>(a.x);
    stage_interior(xp.data(), x, a.zp, a.N, a.H, a.W, a.Cin, a.pad_top, a.pad_left, k.Hp,
                   k.Wp, pool);
  }

  k.xp = xp.data();
  k.bias = static_cast<const std::int32_t*>(packed);
  k.wp = reinterpret_cast<const std::int16_t*>(k.bias + k.CoP);

  // Channel-block-major units without fused requant (conv_int8_rows): one thread keeps a
  // block's weights in cache across consecutive rows (large 1x1 convolutions are weight-bound).
  conv_int8_rows(a, Ho, Wo, kTileC, pool, [&](std::size_t n, std::size_t oh, std::size_t co,
                                              std::int32_t* yrow) {
    std::size_t ow = 0;
    for (; ow + kTileP <= Wo; ow += kTileP) tile<kTileP>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
    for (; ow < Wo; ++ow) tile<1>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
  });
}

}  // namespace bnnflow::glue::avx2
