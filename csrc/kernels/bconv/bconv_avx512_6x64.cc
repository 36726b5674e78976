// AVX-512 binary convolution micro-kernels: output channels in the 16 32-bit lanes, activation
// words broadcast, vpxord + vpopcntd (VPOPCNTDQ) + vpaddd into 32-bit accumulators.
// Tiles: 6 pixels x 64 channels; 8 x 32 and 8 x 16 for narrow groups.
#include <cstdint>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/x86_avx512.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {

template <int MAXP, int P, int V>
inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
          int32_t* out) {
  constexpr int CB = 16 * V;
  __m512i acc[P][V];
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_si512();
  for (int t = 0; t < taps; ++t) {
    const uint32_t* xs[P];
    for (int i = 0; i < P; ++i) xs[i] = x[t * MAXP + i] + xoff;
    const uint32_t* wt = w + static_cast<size_t>(t) * wg * CB;
    for (int j = 0; j < wg; ++j) {
      __m512i wv[V];
      for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_si512(wt + j * CB + 16 * v);
      for (int i = 0; i < P; ++i) {
        const __m512i b = _mm512_set1_epi32(static_cast<int>(xs[i][j]));
        for (int v = 0; v < V; ++v) {
          acc[i][v] =
              _mm512_add_epi32(acc[i][v], _mm512_popcnt_epi32(_mm512_xor_si512(wv[v], b)));
        }
      }
    }
  }
  for (int i = 0; i < P; ++i) {
    for (int v = 0; v < V; ++v) _mm512_storeu_si512(out + i * CB + 16 * v, acc[i][v]);
  }
}

template <int MAXP, int V, int P = MAXP>
void run(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w, int p,
         int32_t* out) {
  if (p == P) {
    tile<MAXP, P, V>(x, taps, wg, xoff, w, out);
  } else if constexpr (P > 1) {
    run<MAXP, V, P - 1>(x, taps, wg, xoff, w, p, out);
  }
}

template <int MAXP, int V>
void run_many(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
              int ntiles, int p_last, int32_t* out) {
  for (int k = 0; k + 1 < ntiles; ++k) {
    tile<MAXP, MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w,
                        out + k * MAXP * 16 * V);
  }
  const int k = ntiles - 1;
  run<MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w, p_last,
               out + k * MAXP * 16 * V);
}

const BconvMicrokernel k6x64{BNNFLOW_AVX512_ISA_NAME "_bconv_6x64", Isa::kAvx512, 6, 64,
                             &run<6, 4>, false, nullptr,
                             &run_many<6, 4>};
const BconvMicrokernel k8x32{BNNFLOW_AVX512_ISA_NAME "_bconv_8x32", Isa::kAvx512, 8, 32,
                             &run<8, 2>, false, nullptr,
                             &run_many<8, 2>};
const BconvMicrokernel k8x16{BNNFLOW_AVX512_ISA_NAME "_bconv_8x16", Isa::kAvx512, 8, 16,
                             &run<8, 1>, false, nullptr,
                             &run_many<8, 1>};

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) {
  if (cout_g > 32) return &k6x64;
  return cout_g > 16 ? &k8x32 : &k8x16;
}

}  // namespace bnnflow::BNNFLOW_AVX512_NS
