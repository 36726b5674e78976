// avx512 add_int8 and add_f32. add_int8: 32 channels per step on vpmaddwd (the shared driver
// of add_int8_pairs_impl.h); add_f32 is the generic kernel of add_impl.h.
#include "kernels/common/vec_avx512.h"
#include "kernels/add/add_impl.h"
#include "kernels/add/residual_impl.h"
#include "kernels/add/add_int8_pairs_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

struct AddBlock32 {
  static constexpr std::size_t kBlock = 32;

  // One half (16 channels) of a block: (Ma·a + Mb·b + br) >> s in int32 lanes.
  static __m512i half(__m512i ab, const std::int32_t* pairs, const std::int32_t* br,
                      const std::int32_t* s) {
    const __m512i v = _mm512_add_epi32(Vec::madd16(ab, _mm512_loadu_si512(pairs)),
                                       _mm512_loadu_si512(br));
    return _mm512_srav_epi32(v, _mm512_loadu_si512(s));
  }

  static void run(const std::int8_t* xa, const std::int8_t* xb, std::int8_t* y,
                  const AddPairConsts<kBlock>& k, std::size_t b) {
    const __m512i a16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xa)));
    const __m512i b16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb)));
    const std::size_t o = b * kBlock;
    const __m512i lo = half(_mm512_unpacklo_epi16(a16, b16), k.pairs.data() + o,
                            k.br.data() + o, k.s.data() + o);
    const __m512i hi = half(_mm512_unpackhi_epi16(a16, b16), k.pairs.data() + o + 16,
                            k.br.data() + o + 16, k.s.data() + o + 16);
    // packs works per 128-bit lane: lane k = channels 8k..8k+7 in order; both steps saturate.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y),
                        _mm512_cvtsepi16_epi8(_mm512_packs_epi32(lo, hi)));
  }
};

}  // namespace

void add_int8(const AddInt8Args& a, ThreadPool* pool) { add_int8_pairs<AddBlock32, Vec>(a, pool); }
void add_f32(const AddF32Args& a, ThreadPool* pool) { add_f32_impl<Vec>(a, pool); }

void residual_rows(const ResidualArgs& a) { residual_rows_generic<Vec>(a); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
