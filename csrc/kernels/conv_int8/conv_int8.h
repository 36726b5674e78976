// conv2d_int8 (docs/numerics.md §5): NHWC uint8 or int8 input with a per-input-channel int32
// zero point, int8 weights [Cout, KH, KW, Cin], int32 bias, int32 output:
//   acc[o] = bias[o] + sum_{taps inside} sum_c w[o,kh,kw,c] * (x[c] - zp[c])
// Padded taps contribute 0. Accumulation is int32 and wraps (two's complement) identically
// on every ISA. Precondition: zp[c] is a value of the input dtype ([0,255] for uint8,
// [-128,127] for int8), so the padded pixel (= zp) is representable in the input dtype.
//
// Fused requant32 (rq set): the kernel writes int8 rq->y[n,i,j,o] = requant32(acc[n,i,j,o])
// (requant.h) and never the int32 tensor (y unused): each output row's accumulators land in a
// per-thread scratch row and go through rq->fn (the same ISA's requant32) while in cache —
// or, where conv2d_int8_requant_in_tile(a) holds (a prepared rq->prep of the int32 or high32
// form and Cout a multiple of 16 on AVX-512 and AVX2), never leave the
// registers: the tile requantises its accumulators (the prepared requant32's lanes) and stores
// int8.
#pragma once
#include "kernels/common/kernel_common.h"
#include "kernels/requant/requant.h"

namespace bnnflow::glue {

struct Conv2dInt8Requant {
  std::int8_t* y;        // [N, Ho, Wo, Cout]
  const std::int32_t* M;  // [Cout]
  const std::int64_t* B;  // [Cout]
  const std::int32_t* s;  // [Cout], 0..62
  Requant32Fn fn;
  const PreparedRequant32* prep = nullptr;  // optional, passed on to fn (requant.h)
};

struct Conv2dInt8Args {
  const void* x;         // [N, H, W, Cin] uint8 (x_unsigned) or int8
  bool x_unsigned;
  const std::int8_t* w;  // [Cout, KH, KW, Cin]
  const std::int32_t* bias;  // [Cout]
  const std::int32_t* zp;    // [Cin]
  std::int32_t* y;       // [N, Ho, Wo, Cout]
  std::size_t N, H, W, Cin, Cout;
  int KH, KW, stride;
  int pad_top, pad_left, pad_bottom, pad_right;  // per side (docs/format.md, Padding)
  const Conv2dInt8Requant* rq = nullptr;  // optional fused requant32 (see above)
};

// conv2d_int8 = conv2d_int8_pack once into conv2d_int8_packed_bytes(a) bytes of zeroed, 64-byte
// aligned memory, then conv2d_int8_packed. Packing reads only w, bias, zp, x_unsigned, Cin, Cout,
// KH, KW (the ISA's weight layout; AVX-512 folds sum w*(zp + 128*signed) into the bias), so a
// caller that keeps the packed bytes (prepare_conv2d_int8_weights) runs conv2d_int8_packed on
// every call with the same w, bias, zp and input dtype. The scalar kernel packs nothing.
#define BNNFLOW_GLUE_CONV_INT8_KERNELS                                  \
  void conv2d_int8(const Conv2dInt8Args& a, ThreadPool* pool);          \
  std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a);        \
  void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed);         \
  void conv2d_int8_packed(const Conv2dInt8Args& a, const void* packed, ThreadPool* pool); \
  bool conv2d_int8_requant_in_tile(const Conv2dInt8Args& a);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_CONV_INT8_KERNELS)

// x[i] as int32 whatever the input dtype.
static inline std::int32_t conv_input_at(const Conv2dInt8Args& a, std::size_t i) {
  return a.x_unsigned ? static_cast<std::int32_t>(static_cast<const std::uint8_t*>(a.x)[i])
                      : static_cast<std::int32_t>(static_cast<const std::int8_t*>(a.x)[i]);
}

// The output-row loop shared by the ISAs' conv2d_int8_packed: block(n, oh, co, yrow) computes
// output row (n, oh), channels [co, co + block_ch), into yrow ([Wo][Cout] int32). Without rq the
// units are (channel block, row), block-major, so one block's weights stay in cache, and yrow is
// the row of a.y; with rq the units are rows (all blocks of a row on one thread), yrow is a
// per-thread scratch row, requantized into rq->y once complete.
template <class Block>
void conv_int8_rows(const Conv2dInt8Args& a, std::size_t Ho, std::size_t Wo, std::size_t block_ch,
                    ThreadPool* pool, const Block& block) {
  const std::size_t rows = a.N * Ho, blocks = (a.Cout + block_ch - 1) / block_ch;
  const std::size_t row_elems = Wo * a.Cout;
  if (a.rq == nullptr) {
    parallel_ranges(pool, blocks * rows, [&](std::size_t u0, std::size_t u1) {
      for (std::size_t u = u0; u < u1; ++u) {
        const std::size_t row = u % rows;
        block(row / Ho, row % Ho, (u / rows) * block_ch, a.y + row * row_elems);
      }
    });
    return;
  }
  const Conv2dInt8Requant& rq = *a.rq;
  parallel_ranges(pool, rows, [&](std::size_t r0, std::size_t r1) {
    GlueBuffer<std::int32_t> acc(row_elems);
    for (std::size_t row = r0; row < r1; ++row) {
      for (std::size_t b = 0; b < blocks; ++b) block(row / Ho, row % Ho, b * block_ch, acc.data());
      const Requant32Args q{acc.data(), rq.y + row * row_elems, Wo, a.Cout, rq.M, rq.B, rq.s, rq.prep};
      rq.fn(q, nullptr);
    }
  });
}

// The units of conv_int8_rows without rq (channel block, row; block-major), for a kernel that
// requantises in its register tile: block8(n, oh, co, y8row) writes output row (n, oh),
// channels [co, co + block_ch), as int8 into y8row (the row of a.rq->y).
template <class Block8>
void conv_int8_rows_in_tile(const Conv2dInt8Args& a, std::size_t Ho, std::size_t Wo,
                            std::size_t block_ch, ThreadPool* pool, const Block8& block8) {
  const std::size_t rows = a.N * Ho, blocks = (a.Cout + block_ch - 1) / block_ch;
  const std::size_t row_elems = Wo * a.Cout;
  parallel_ranges(pool, blocks * rows, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t row = u % rows;
      block8(row / Ho, row % Ho, (u / rows) * block_ch, a.rq->y + row * row_elems);
    }
  });
}

}  // namespace bnnflow::glue
