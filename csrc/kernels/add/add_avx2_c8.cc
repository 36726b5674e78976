// avx2 add_int8 and add_f32. add_int8: 16 channels per step on vpmaddwd (the shared driver
// of add_int8_pairs_impl.h), where the generic kernel needs two vpmulld per 8 channels;
// add_f32 is the generic kernel of add_impl.h.
#include "kernels/common/vec_avx2.h"
#include "kernels/add/add_impl.h"
#include "kernels/add/residual_impl.h"
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

// residual_rows, 16 channels per step: y and r sign-extended to int16 with their 64-bit
// quarters ordered 0, 2, 1, 3, so that vpunpck{l,h}wd give the (y, r) pairs of channels 0-7
// and 8-15 in order; one vpmaddwd each against the (My, Mr) pairs gives My·y + Mr·r exactly
// (|.| <= 2·128·32768); + br, >> s, the pwl on the int32 lanes, then saturating packs (a
// 64-bit permute puts the channels back in order) and one 16-byte store.
namespace {
struct ResidualBlock16 {
  static constexpr std::size_t kBlock = 16;
  static __m256i widen(const std::int8_t* p) {
    return _mm256_permute4x64_epi64(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 0xD8);
  }
  template <bool kPwl>
  static __m256i half(const ResidualParams& p, __m256i yr, std::size_t c) {
    const __m256i v =
        _mm256_add_epi32(_mm256_madd_epi16(yr, ld256(p.pairs + c)), ld256(p.br + c));
    const __m256i w = _mm256_srav_epi32(v, ld256(p.s + c));
    if constexpr (kPwl) return residual_pwl<Vec>(p, w, c);
    return w;
  }
  template <bool kPwl>
  static void run(const ResidualParams& p, std::int8_t* y, const std::int8_t* r, std::size_t c) {
    const __m256i y16 = widen(y), r16 = widen(r);
    const __m256i lo = half<kPwl>(p, _mm256_unpacklo_epi16(y16, r16), c);
    const __m256i hi = half<kPwl>(p, _mm256_unpackhi_epi16(y16, r16), c + 8);
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y),
                     _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
  }
};
}  // namespace

void residual_rows(const ResidualArgs& a) {
  if (a.p->pairs != nullptr) {
    residual_rows_generic<Vec, ResidualBlock16>(a);
  } else {
    residual_rows_generic<Vec>(a);
  }
}


}  // namespace bnnflow::glue::avx2
