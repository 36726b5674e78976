// AVX-512 VNNI dense_int8: 4 outputs at a time, 64 inputs per step with vpdpbusd. The input
// is made unsigned by x + 128 (xor 0x80); the matching correction 128*sum(w) is accumulated
// by a second vpdpbusd with a constant 0x80 operand and subtracted. The input tail uses
// masked loads (masked weights are 0, so masked lanes contribute nothing).
#include "kernels/dense_int8/dense_int8_impl.h"
#include "kernels/common/isa_avx512.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

struct Rows {
  template <int R>
  static void run(const DenseInt8Args& a, std::size_t n, std::size_t o) {
    const std::int8_t* x = a.x + n * a.Cin;
    const __m512i bias8 = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512i acc[R], corr[R];
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm512_setzero_si512();
      corr[r] = _mm512_setzero_si512();
    }
    for (std::size_t c = 0; c < a.Cin; c += 64) {
      const std::size_t m = a.Cin - c < 64 ? a.Cin - c : 64;
      const __mmask64 k = m == 64 ? ~__mmask64{0} : ((__mmask64{1} << m) - 1);
      const __m512i xu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, x + c), bias8);
      for (int r = 0; r < R; ++r) {
        const __m512i w = _mm512_maskz_loadu_epi8(k, a.w + (o + r) * a.Cin + c);
        acc[r] = _mm512_dpbusd_epi32(acc[r], xu, w);
        corr[r] = _mm512_dpbusd_epi32(corr[r], bias8, w);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512i d = _mm512_sub_epi32(acc[r], corr[r]);
      dense_finish(a, n, o + r, a.Cin, _mm512_reduce_add_epi32(d));
    }
  }
};

}  // namespace

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) { dense_int8_impl<Rows>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
