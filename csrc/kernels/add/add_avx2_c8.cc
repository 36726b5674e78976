// avx2 add_int8 and add_f32. add_int8: 16 channels per step on vpmaddwd (the shared driver
// of add_int8_pairs_impl.h), where the generic kernel needs two vpmulld per 8 channels;
// add_f32 is the generic kernel of add_impl.h.
#include "kernels/common/vec_avx2.h"
#include "kernels/add/add_impl.h"
#include "kernels/add/add_int8_pairs_impl.h"

namespace bnnflow::glue::avx2 {
namespace {

inline __m256i ld256(const std::int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

struct AddBlock16 {
  static constexpr std::size_t kBlock = 16;

  // One half (8 channels) of a block: (Ma·a + Mb·b + br) >> s in int32 lanes.
  static __m256i half(__m256i ab, const std::int32_t* pairs, const std::int32_t* br,
                      const std::int32_t* s) {
    const __m256i v = _mm256_add_epi32(_mm256_madd_epi16(ab, ld256(pairs)), ld256(br));
    return _mm256_srav_epi32(v, ld256(s));
  }

  static void run(const std::int8_t* xa, const std::int8_t* xb, std::int8_t* y,
                  const AddPairConsts<kBlock>& k, std::size_t b) {
    const __m256i a16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xa)));
    const __m256i b16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb)));
    const std::size_t o = b * kBlock;
    const __m256i lo = half(_mm256_unpacklo_epi16(a16, b16), k.pairs.data() + o,
                            k.br.data() + o, k.s.data() + o);
    const __m256i hi = half(_mm256_unpackhi_epi16(a16, b16), k.pairs.data() + o + 8,
                            k.br.data() + o + 8, k.s.data() + o + 8);
    // packs works per 128-bit lane: lane k = channels 8k..8k+7 in order; both steps saturate.
    const __m256i w = _mm256_packs_epi32(lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y),
                     _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
  }
};

}  // namespace

void add_int8(const AddInt8Args& a, ThreadPool* pool) { add_int8_pairs<AddBlock16, Vec>(a, pool); }
void add_f32(const AddF32Args& a, ThreadPool* pool) { add_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::avx2
