// The driver of the vpmaddwd add_int8 kernels (add_avx2_c8.cc, add_avx512_c16.cc), written
// once. A kernel's Block type handles Block::kBlock channels per step: a and b sign-extended
// to int16 and interleaved by vpunpck{l,h}wd into (a, b) pairs, one vpmaddwd against the
// per-channel (Ma, Mb) pairs per half gives Ma·a + Mb·b exactly (|Ma·a| + |Mb·b| ≤
// 2·32768·128 < 2^31), then + B + 2^(s−1), >> s, saturating packs. Channel tails use the
// generic lane kernel's formula (V), then the scalar one. Included only by ISA kernel files;
// everything is TU-local.
#pragma once
#include "kernels/add/add.h"
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {
namespace {

// Per-channel constants of whole kBlock-channel blocks, [block][half][kBlock / 2] in the
// order vpunpck{l,h}wd leave the channels: they interleave within 128-bit lanes, so lane k of
// the "lo" half holds channels 8k..8k+3 of the block and of the "hi" half 8k+4..8k+7.
template <std::size_t kBlock>
struct AddPairConsts {
  GlueBuffer<std::int32_t> pairs, br, s;  // pairs: (Ma, Mb) as int16 x 2
  AddPairConsts(const AddInt8Args& a, std::size_t blocks)
      : pairs(blocks * kBlock), br(blocks * kBlock), s(blocks * kBlock) {
    constexpr std::size_t kHalf = kBlock / 2;
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t half = 0; half < 2; ++half) {
        for (std::size_t i = 0; i < kHalf; ++i) {
          const std::size_t c = b * kBlock + 8 * (i / 4) + 4 * half + i % 4;
          const std::size_t k = b * kBlock + half * kHalf + i;
          pairs[k] = static_cast<std::int32_t>(
              static_cast<std::uint16_t>(a.Ma[c]) |
              (static_cast<std::uint32_t>(static_cast<std::uint16_t>(a.Mb[c])) << 16));
          br[k] = wadd32(a.B[c], round_term32(a.s[c]));
          s[k] = a.s[c];
        }
      }
    }
  }
};

// Block: static constexpr std::size_t kBlock; static void run(const int8_t* a,
// const int8_t* b, int8_t* y, const AddPairConsts<kBlock>& k, std::size_t block).
template <class Block, class V>
void add_int8_pairs(const AddInt8Args& a, ThreadPool* pool) {
  constexpr std::size_t kBlock = Block::kBlock;
  const std::size_t C = a.channels, blocks = C / kBlock, Cb = blocks * kBlock;
  const AddPairConsts<kBlock> k(a, blocks);
  GlueBuffer<std::int32_t> ma(C), mb(C), br(C);
  for (std::size_t c = Cb; c < C; ++c) {
    ma[c] = a.Ma[c];
    mb[c] = a.Mb[c];
    br[c] = wadd32(a.B[c], round_term32(a.s[c]));
  }
  const std::size_t Cv = C - (C - Cb) % V::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* xa = a.a + r * C;
      const std::int8_t* xb = a.b + r * C;
      std::int8_t* y = a.y + r * C;
      for (std::size_t b = 0; b < blocks; ++b) {
        Block::run(xa + b * kBlock, xb + b * kBlock, y + b * kBlock, k, b);
      }
      std::size_t c = Cb;
      for (; c < Cv; c += V::kI32) {
        typename V::I v = V::mla(V::ld_i32(br.data() + c), V::ld_i8(xa + c), V::ld_i32(ma.data() + c));
        v = V::mla(v, V::ld_i8(xb + c), V::ld_i32(mb.data() + c));
        V::st_sat_i8(y + c, V::srav(v, V::ld_i32(a.s + c)));
      }
      for (; c < C; ++c) {
        y[c] = sat8(wadd32(wadd32(ma[c] * xa[c], mb[c] * xb[c]), br[c]) >> a.s[c]);
      }
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
