// AVX2 binary convolution micro-kernels (nibble-split). Weights and activations arrive
// nibble-split (lo = v & 0x0f0f0f0f, hi = (v >> 4) & 0x0f0f0f0f), so a 256-bit xor-popcount
// is 2 vpxor + 2 vpshufb + 2 vpaddb (6 ops instead of the 8 of the plain nibble table).
// Output channels in the 8 32-bit lanes; activation nibble words broadcast from memory;
// 8-bit counters (<= 8 per word) widened into 32-bit sums every 31 words (8·31 < 256: exact).
// The plain nibble table (8 ops) and Harley-Seal (no register tile fits its state) measured
// slower on Zen 3; see the ceiling kernels in ceiling_avx2_methods.cc.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/bconv/bconv_isa.h"

namespace bnnflow::avx2 {
TileEpilogueFn bconv_epilogue();
namespace {

template <int MAXP, int P, int V>
void tile(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
          int32_t* out) {
  constexpr int CB = 8 * V;
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                       2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256i sum[P][V];
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) sum[i][v] = _mm256_setzero_si256();
  int t = 0, j = 0;
  while (t < taps) {
    __m256i acc[P][V];
    for (int i = 0; i < P; ++i)
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_si256();
    int budget = 31;
    while (t < taps && budget > 0) {
      const int jn = std::min(wg, j + budget);
      budget -= jn - j;
      const uint32_t* xs[P];
      for (int i = 0; i < P; ++i) xs[i] = x[t * MAXP + i] + xoff;
      const uint32_t* wt = w + static_cast<size_t>(t) * wg * 2 * CB;
      for (; j < jn; ++j) {
        __m256i wl[V], wh[V];
        for (int v = 0; v < V; ++v) {
          wl[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + 2 * j * CB + 8 * v));
          wh[v] = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(wt + (2 * j + 1) * CB + 8 * v));
        }
        for (int i = 0; i < P; ++i) {
          const __m256i bl = _mm256_set1_epi32(static_cast<int>(xs[i][2 * j]));
          const __m256i bh = _mm256_set1_epi32(static_cast<int>(xs[i][2 * j + 1]));
          for (int v = 0; v < V; ++v) {
            const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_xor_si256(wl[v], bl));
            const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_xor_si256(wh[v], bh));
            acc[i][v] = _mm256_add_epi8(acc[i][v], _mm256_add_epi8(lo, hi));
          }
        }
      }
      if (j == wg) {
        j = 0;
        ++t;
      }
    }
    for (int i = 0; i < P; ++i) {
      for (int v = 0; v < V; ++v) {
        const __m256i s16 = _mm256_maddubs_epi16(acc[i][v], ones8);
        sum[i][v] = _mm256_add_epi32(sum[i][v], _mm256_madd_epi16(s16, ones16));
      }
    }
  }
  for (int i = 0; i < P; ++i) {
    for (int v = 0; v < V; ++v) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * CB + 8 * v), sum[i][v]);
    }
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

// Tile choice (docs/performance.md): wider channel blocks share each broadcast among more
// vectors but run out of the 16 ymm registers; 4 pixels x 16 channels was fastest on the
// ResNet-18 layers, 8 x 8 serves groups of <= 8 output channels.
const BconvMicrokernel k4x16{"bconv_avx2_4x16", Isa::kAvx2, 4, 16, &run<4, 2>, true,
                             bconv_epilogue()};
const BconvMicrokernel k8x8{"bconv_avx2_8x8", Isa::kAvx2, 8, 8, &run<8, 1>, true,
                            bconv_epilogue()};

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) { return cout_g > 8 ? &k4x16 : &k8x8; }

}  // namespace bnnflow::avx2
