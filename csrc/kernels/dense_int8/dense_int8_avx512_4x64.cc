// AVX-512 VNNI dense_int8: 4 outputs at a time, 64 inputs per step with vpdpbusd. The weights
// are made the unsigned operand by w + 128 (xor 0x80) and the input stays signed:
// sum (w + 128)*x = sum w*x + 128*sum x, and sum x (one more vpdpbusd per step, with a
// constant 1 operand, shared by the 4 outputs) is subtracted once per output. (The input as
// the unsigned operand needed the correction 128*sum w: a second vpdpbusd per output and
// step.) The input tail uses masked loads (masked inputs are 0, so masked lanes contribute
// nothing whatever the weight lane holds).
//
// Prefetch: at batch 1 (the classifier, 512 x 1000 bytes) each output row is a stream of only
// Cin / 64 lines, too short for the hardware prefetcher to ramp up, and after the model's
// other layers (or another model, or some milliseconds away from the core) the rows come from
// L3 or memory: the step was 5.5-10x its VNNI bound. Each step of 64 inputs therefore prefetches
// the same line of the 4 rows kPrefetchAhead outputs on (the AVX2 kernel's scheme); the last
// rows prefetch their own (no pointer past the weights' end). Prefetches change no result.
#include "kernels/dense_int8/dense_int8_impl.h"
#include "kernels/common/isa_avx512.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {
namespace {

constexpr std::size_t kPrefetchAhead = 16;

struct Rows {
  template <int R>
  static void run(const DenseInt8Args& a, std::size_t n, std::size_t o) {
    const std::int8_t* x = a.x + n * a.Cin;
    const std::size_t oa = o + kPrefetchAhead + 4 <= a.Cout ? o + kPrefetchAhead : o;
    const char* ahead = reinterpret_cast<const char*>(a.w + oa * a.Cin);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc[R], sum_x = _mm512_setzero_si512();
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
    for (std::size_t c = 0; c < a.Cin; c += 64) {
      const std::size_t m = a.Cin - c < 64 ? a.Cin - c : 64;
      const __mmask64 k = m == 64 ? ~__mmask64{0} : ((__mmask64{1} << m) - 1);
      if constexpr (R == 4) {
        if (kPrefetchAhead > 0) {
          for (int r = 0; r < 4; ++r) __builtin_prefetch(ahead + r * a.Cin + c, 0, 3);
        }
      }
      const __m512i xs = _mm512_maskz_loadu_epi8(k, x + c);
      sum_x = _mm512_dpbusd_epi32(sum_x, ones, xs);
      for (int r = 0; r < R; ++r) {
        const __m512i wu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, a.w + (o + r) * a.Cin + c), flip);
        acc[r] = _mm512_dpbusd_epi32(acc[r], wu, xs);
      }
    }
    const __m512i corr = _mm512_slli_epi32(sum_x, 7);  // 128 * sum x, per lane
    for (int r = 0; r < R; ++r) {
      const __m512i d = _mm512_sub_epi32(acc[r], corr);
      dense_finish(a, n, o + r, a.Cin, _mm512_reduce_add_epi32(d));
    }
  }
};

}  // namespace

void dense_int8(const DenseInt8Args& a, ThreadPool* pool) { dense_int8_impl<Rows>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
