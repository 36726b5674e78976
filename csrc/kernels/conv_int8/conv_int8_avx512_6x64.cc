// AVX-512 VNNI conv2d_int8: direct convolution, output channels across lanes, register tile
// of up to 6 output pixels x 64 output channels (24 zmm accumulators), vpdpbusd (u8 x s8,
// four products per int32 lane).
//
// vpdpbusd needs one unsigned operand: the input is staged as u = x + off (off = 128 for
// int8 input, 0 for uint8) with border pixels u = zp + off (the precondition keeps that in
// [0, 255]). Then sum w*(x - zp) = sum w*u - sum w*(zp + off) over *all* taps (border taps
// give u - (zp + off) = 0), and the second sum is a per-channel constant folded into the
// bias. The KW*Cin staged bytes of a kernel row are contiguous and read as 4-byte groups; a
// row length that is not a multiple of 4 meets zero weights.
#include "kernels/conv_int8/conv_int8.h"
#include "kernels/glue_common/conv_prep.h"
#include "kernels/glue_common/x86_avx512.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

constexpr int kTileP = 6;
constexpr std::size_t kLanes = 16;

struct Packed {
  const std::uint8_t* xu;  // staged input [N][Hp][Wp][Cin]
  const std::int8_t* wq;   // [KH][Q][CoP][4]
  const std::int32_t* bias;  // [CoP], zero-point correction folded in
  std::size_t Hp, Wp, Q, CoP;
};

template <int P, int V>
void tile(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh, std::size_t ow,
          std::size_t co, std::int32_t* y) {
  __m512i acc[P][V];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < V; ++v) acc[p][v] = _mm512_loadu_si512(k.bias + co + v * kLanes);
  }
  const std::size_t pix = static_cast<std::size_t>(a.stride) * a.Cin;
  for (int kh = 0; kh < a.KH; ++kh) {
    const std::uint8_t* xr = k.xu + ((n * k.Hp + oh * a.stride + kh) * k.Wp + ow * a.stride) * a.Cin;
    const std::int8_t* wr = k.wq + (static_cast<std::size_t>(kh) * k.Q * k.CoP + co) * 4;
    for (std::size_t q = 0; q < k.Q; ++q) {
      __m512i w[V];
      for (int v = 0; v < V; ++v) w[v] = _mm512_loadu_si512(wr + (q * k.CoP + v * kLanes) * 4);
      for (int p = 0; p < P; ++p) {
        std::int32_t quad;
        std::memcpy(&quad, xr + p * pix + 4 * q, 4);
        const __m512i b = _mm512_set1_epi32(quad);
        for (int v = 0; v < V; ++v) acc[p][v] = _mm512_dpbusd_epi32(acc[p][v], b, w[v]);
      }
    }
  }
  const std::size_t valid = a.Cout - co < V * kLanes ? a.Cout - co : V * kLanes;
  for (int p = 0; p < P; ++p) {
    std::int32_t* yp = y + p * a.Cout + co;
    for (int v = 0; v < V; ++v) {
      const std::size_t c0 = v * kLanes;
      if (c0 >= valid) break;
      const std::size_t m = valid - c0 < kLanes ? valid - c0 : kLanes;
      _mm512_mask_storeu_epi32(yp + c0, static_cast<__mmask16>((1u << m) - 1u), acc[p][v]);
    }
  }
}

// Stages u = x + off (off = 128 for int8 input) into the padded buffer; border pixels get
// `border` (zp + off per channel).
void stage_unsigned(const Conv2dInt8Args& a, std::uint8_t* xu, const std::uint8_t* border,
                    std::size_t Hp, std::size_t Wp, ThreadPool* pool) {
  const std::size_t C = a.Cin, pad = static_cast<std::size_t>(a.pad);
  parallel_ranges(pool, a.N * Hp, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / Hp, hp = r % Hp;
      const bool inside_h = hp >= pad && hp < a.H + pad;
      std::uint8_t* row = xu + r * Wp * C;
      for (std::size_t wp = 0; wp < Wp; ++wp) {
        std::uint8_t* px = row + wp * C;
        if (!inside_h || wp < pad || wp >= a.W + pad) {
          std::memcpy(px, border, C);
          continue;
        }
        const std::size_t src = ((n * a.H + hp - pad) * a.W + wp - pad) * C;
        if (a.x_unsigned) {
          std::memcpy(px, static_cast<const std::uint8_t*>(a.x) + src, C);
        } else {
          const std::int8_t* x = static_cast<const std::int8_t*>(a.x) + src;
          for (std::size_t c = 0; c < C; ++c) px[c] = static_cast<std::uint8_t>(x[c] + 128);
        }
      }
    }
  });
}

// One block of up to 64 channels starting at co (a multiple of 64).
template <int P>
void tile_block(const Conv2dInt8Args& a, const Packed& k, std::size_t n, std::size_t oh,
                std::size_t ow, std::size_t co, std::int32_t* y) {
  const std::size_t vectors = (k.CoP - co) / kLanes;
  switch (vectors < 4 ? vectors : 4) {
    case 4: tile<P, 4>(a, k, n, oh, ow, co, y); break;
    case 3: tile<P, 3>(a, k, n, oh, ow, co, y); break;
    case 2: tile<P, 2>(a, k, n, oh, ow, co, y); break;
    case 1: tile<P, 1>(a, k, n, oh, ow, co, y); break;
    default: break;
  }
}

}  // namespace

// Packed bytes: corrected bias int32 [CoP], then weights int8 [KH][Q][CoP][4].
std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a) {
  const std::size_t Q = (static_cast<std::size_t>(a.KW) * a.Cin + 3) / 4;
  const std::size_t CoP = (a.Cout + kLanes - 1) / kLanes * kLanes;
  return CoP * sizeof(std::int32_t) + static_cast<std::size_t>(a.KH) * Q * CoP * 4;
}

// The bias absorbs sum over all taps of w * (zp + off): the staged input is x + off, the
// border zp + off.
void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed) {
  const std::int32_t off = a.x_unsigned ? 0 : 128;
  const std::size_t CoP = (a.Cout + kLanes - 1) / kLanes * kLanes;
  auto* bias = static_cast<std::int32_t*>(packed);
  pack_weights<4>(reinterpret_cast<std::int8_t*>(bias + CoP), a.w, a.Cout, a.KH,
                  static_cast<std::size_t>(a.KW) * a.Cin, CoP);
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

void conv2d_int8_packed(const Conv2dInt8Args& a, const void* packed, ThreadPool* pool) {
  const std::size_t Ho = out_size(a.H, a.KH, a.stride, a.pad);
  const std::size_t Wo = out_size(a.W, a.KW, a.stride, a.pad);
  const std::int32_t off = a.x_unsigned ? 0 : 128;
  Packed k;
  k.Hp = a.H + 2 * a.pad;
  k.Wp = a.W + 2 * a.pad;
  const std::size_t L = static_cast<std::size_t>(a.KW) * a.Cin;
  k.Q = (L + 3) / 4;
  k.CoP = (a.Cout + kLanes - 1) / kLanes * kLanes;

  GlueBuffer<std::uint8_t> xu(a.N * k.Hp * k.Wp * a.Cin + 4), border(a.Cin);
  for (std::size_t c = 0; c < a.Cin; ++c) border[c] = static_cast<std::uint8_t>(a.zp[c] + off);
  stage_unsigned(a, xu.data(), border.data(), k.Hp, k.Wp, pool);

  k.xu = xu.data();
  k.bias = static_cast<const std::int32_t*>(packed);
  k.wq = reinterpret_cast<const std::int8_t*>(k.bias + k.CoP);

  conv_int8_rows(a, Ho, Wo, 4 * kLanes, pool, [&](std::size_t n, std::size_t oh, std::size_t co,
                                                   std::int32_t* yrow) {
    std::size_t ow = 0;
    for (; ow + kTileP <= Wo; ow += kTileP) tile_block<kTileP>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
    for (; ow < Wo; ++ow) tile_block<1>(a, k, n, oh, ow, co, yrow + ow * a.Cout);
  });
}

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
