// avx2 add_int8 and add_f32. add_int8 runs 16 channels per step on vpmaddwd: a and b
// sign-extended to int16 and interleaved in (a, b) pairs, so one multiply-add per 8 lanes
// gives Ma·a + Mb·b exactly (|Ma·a| + |Mb·b| ≤ 2·32768·128 < 2^31), where the generic kernel
// needs two vpmulld; channel tails use the generic 8-lane kernel's formula. add_f32 is the
// generic kernel of eltwise_impl.h.
#include "kernels/glue_common/vec_avx2.h"
#include "kernels/glue_common/eltwise_impl.h"

namespace bnnflow::glue::avx2 {
namespace {

constexpr std::size_t kBlock = 16;

// vpunpck{l,h}wd interleave within 128-bit lanes: lane k of the "lo" half holds channels
// 8k..8k+3 of a 16-channel block, of the "hi" half 8k+4..8k+7. The per-channel constants
// are stored in that order, 8 int32 per half.
inline std::size_t unpacked_channel(int half, int i) {
  return static_cast<std::size_t>(8 * (i / 4) + 4 * half + i % 4);
}

struct AddBlockConstsAvx2 {
  GlueBuffer<std::int32_t> pairs, br, s;  // [block][half][8]; pairs: (Ma, Mb) as int16 x 2
  AddBlockConstsAvx2(const AddInt8Args& a, std::size_t blocks)
      : pairs(blocks * kBlock), br(blocks * kBlock), s(blocks * kBlock) {
    for (std::size_t b = 0; b < blocks; ++b) {
      for (int half = 0; half < 2; ++half) {
        for (int i = 0; i < 8; ++i) {
          const std::size_t c = b * kBlock + unpacked_channel(half, i);
          const std::size_t k = b * kBlock + static_cast<std::size_t>(half * 8 + i);
          pairs[k] = static_cast<std::int32_t>(static_cast<std::uint16_t>(a.Ma[c]) |
                                               (static_cast<std::uint32_t>(
                                                    static_cast<std::uint16_t>(a.Mb[c])) << 16));
          br[k] = wadd32(a.B[c], round_term32(a.s[c]));
          s[k] = a.s[c];
        }
      }
    }
  }
};

inline __m256i ld256(const std::int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// One half (8 channels) of a block: (Ma·a + Mb·b + br) >> s in int32 lanes.
inline __m256i add_half(__m256i ab, const std::int32_t* pairs, const std::int32_t* br,
                        const std::int32_t* s) {
  const __m256i v = _mm256_add_epi32(_mm256_madd_epi16(ab, ld256(pairs)), ld256(br));
  return _mm256_srav_epi32(v, ld256(s));
}

inline void add_block(const std::int8_t* xa, const std::int8_t* xb, std::int8_t* y,
                      const AddBlockConstsAvx2& k, std::size_t b) {
  const __m256i a16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xa)));
  const __m256i b16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb)));
  const std::size_t o = b * kBlock;
  const __m256i lo = add_half(_mm256_unpacklo_epi16(a16, b16), k.pairs.data() + o,
                              k.br.data() + o, k.s.data() + o);
  const __m256i hi = add_half(_mm256_unpackhi_epi16(a16, b16), k.pairs.data() + o + 8,
                              k.br.data() + o + 8, k.s.data() + o + 8);
  // packs works per 128-bit lane: lane k = channels 8k..8k+7 in order; both steps saturate.
  const __m256i w = _mm256_packs_epi32(lo, hi);
  const __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y), bytes);
}

}  // namespace

void add_int8(const AddInt8Args& a, ThreadPool* pool) {
  const std::size_t C = a.channels, blocks = C / kBlock, Cb = blocks * kBlock;
  const AddBlockConstsAvx2 k(a, blocks);
  GlueBuffer<std::int32_t> ma(C), mb(C), br(C);
  for (std::size_t c = Cb; c < C; ++c) {
    ma[c] = a.Ma[c];
    mb[c] = a.Mb[c];
    br[c] = wadd32(a.B[c], round_term32(a.s[c]));
  }
  const std::size_t Cv = C - (C - Cb) % Vec::kI32;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::int8_t* xa = a.a + r * C;
      const std::int8_t* xb = a.b + r * C;
      std::int8_t* y = a.y + r * C;
      for (std::size_t b = 0; b < blocks; ++b) {
        add_block(xa + b * kBlock, xb + b * kBlock, y + b * kBlock, k, b);
      }
      std::size_t c = Cb;
      for (; c < Cv; c += Vec::kI32) {
        Vec::I v = Vec::mla(Vec::ld_i32(br.data() + c), Vec::ld_i8(xa + c), Vec::ld_i32(ma.data() + c));
        v = Vec::mla(v, Vec::ld_i8(xb + c), Vec::ld_i32(mb.data() + c));
        Vec::st_sat_i8(y + c, Vec::srav(v, Vec::ld_i32(a.s + c)));
      }
      for (; c < C; ++c) {
        y[c] = sat8(wadd32(wadd32(ma[c] * xa[c], mb[c] * xb[c]), br[c]) >> a.s[c]);
      }
    }
  });
}

void add_f32(const AddF32Args& a, ThreadPool* pool) { add_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::avx2
