// NEON conv2d_int8: direct convolution, output channels across lanes, register tile of
// 4 output pixels x 16 output channels (16 int32x4 accumulators). The input is staged once as
// int16 (x - zp) with a zero border (exact: |x - zp| <= 255); each staged value is multiplied
// into 16 int16 weights with vmlal_n_s16 / vmlal_high_n_s16 (int16 x int16 -> int32).
#include "kernels/common/isa_neon.h"

#include "kernels/conv_int8/conv_int8.h"
#include "kernels/common/conv_prep.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {
namespace {

constexpr int kTileP = 4;
constexpr std::size_t kTileC = 16;

struct Packed {
  const std::int16_t* xp;    // [N][Hp][Wp][Cin]
  const std::int16_t* wk;    // [KH][L][CoP]
  const std::int32_t* bias;  // [CoP]
  std::size_t Hp, Wp, L, CoP;
};

template <int P>
void tile(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh, std::size_t ow,
          std::size_t co, std::int32_t* y) {
  int32x4_t acc[P][4];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < 4; ++v) acc[p][v] = vld1q_s32(k.bias + co + 4 * v);
  }
  const std::size_t pix = static_cast<std::size_t>(a.stride) * a.Cin;
  for (int kh = 0; kh < a.KH; ++kh) {
    const std::int16_t* xr = k.xp + ((n * k.Hp + oh * a.stride + kh) * k.Wp + ow * a.stride) * a.Cin;
    const std::int16_t* wr = k.wk + static_cast<std::size_t>(kh) * k.L * k.CoP + co;
    for (std::size_t i = 0; i < k.L; ++i) {
      const int16x8_t w0 = vld1q_s16(wr + i * k.CoP), w1 = vld1q_s16(wr + i * k.CoP + 8);
      for (int p = 0; p < P; ++p) {
        const std::int16_t d = xr[p * pix + i];
        acc[p][0] = vmlal_n_s16(acc[p][0], vget_low_s16(w0), d);
        acc[p][1] = vmlal_high_n_s16(acc[p][1], w0, d);
        acc[p][2] = vmlal_n_s16(acc[p][2], vget_low_s16(w1), d);
        acc[p][3] = vmlal_high_n_s16(acc[p][3], w1, d);
      }
    }
  }
  const std::size_t valid = a.Cout - co < kTileC ? a.Cout - co : kTileC;
  for (int p = 0; p < P; ++p) {
    std::int32_t* yp = y + p * a.Cout + co;
    if (valid == kTileC) {
      for (int v = 0; v < 4; ++v) vst1q_s32(yp + 4 * v, acc[p][v]);
    } else {
      std::int32_t tmp[kTileC];
      for (int v = 0; v < 4; ++v) vst1q_s32(tmp + 4 * v, acc[p][v]);
      std::memcpy(yp, tmp, valid * sizeof(std::int32_t));
    }
  }
}

}  // namespace

// Packed bytes: bias int32 [CoP], then weights int16 [KH][L][CoP].
std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a) {
  const std::size_t CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  return CoP * sizeof(std::int32_t) +
         static_cast<std::size_t>(a.KH) * a.KW * a.Cin * CoP * sizeof(std::int16_t);
}

void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed) {
  const std::size_t CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;
  auto* bias = static_cast<std::int32_t*>(packed);
  for (std::size_t o = 0; o < a.Cout; ++o) bias[o] = a.bias[o];
  pack_weights<1>(reinterpret_cast<std::int16_t*>(bias + CoP), a.w, a.Cout, a.KH,
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
  k.L = static_cast<std::size_t>(a.KW) * a.Cin;
  k.CoP = (a.Cout + kTileC - 1) / kTileC * kTileC;

  GlueBuffer<std::int16_t> xp(a.N * k.Hp * k.Wp * a.Cin);
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
  k.wk = reinterpret_cast<const std::int16_t*>(k.bias + k.CoP);

  // Channel-block-major units without fused requant (conv_int8_rows): one thread keeps a
  // block's weights in cache across consecutive rows (large 1x1 convolutions are weight-bound).
  conv_int8_rows(a, Ho, Wo, kTileC, pool, [&](std::size_t n, std::size_t oh, std::size_t co,
                                              std::int32_t* yrow) {
    std::size_t ow = 0;
    for (; ow + kTileP <= Wo; ow += kTileP) tile<kTileP>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
    for (; ow < Wo; ++ow) tile<1>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
  });
}

bool conv2d_int8_requant_in_tile(const Conv2dInt8Args&) { return false; }  // per-row scratch

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
