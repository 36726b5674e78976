// NEON (AArch64) binary convolution micro-kernels: output channels in the 4 32-bit lanes,
// activation words broadcast, eor + cnt (per-byte popcount) + uadalp into 16-bit accumulators
// (exact: a 16-bit lane sums at most K < 65536 bits), widened to 32 bits at the end.
// Tiles: 4 pixels x 16 channels; 8 pixels x 8 channels for narrow groups.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/bconv/bconv_isa.h"

namespace bnnflow::neon {
namespace {

template <int MAXP, int P, int V>
inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
          int32_t* out) {
  constexpr int CB = 4 * V;
  uint16x8_t acc[P][V];
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = vdupq_n_u16(0);
  for (int t = 0; t < taps; ++t) {
    const uint32_t* xs[P];
    for (int i = 0; i < P; ++i) xs[i] = x[t * MAXP + i] + xoff;
    const uint32_t* wt = w + static_cast<size_t>(t) * wg * CB;
    for (int j = 0; j < wg; ++j) {
      uint32x4_t wv[V];
      for (int v = 0; v < V; ++v) wv[v] = vld1q_u32(wt + j * CB + 4 * v);
      for (int i = 0; i < P; ++i) {
        const uint32x4_t b = vdupq_n_u32(xs[i][j]);
        for (int v = 0; v < V; ++v) {
          const uint8x16_t c = vcntq_u8(vreinterpretq_u8_u32(veorq_u32(wv[v], b)));
          acc[i][v] = vpadalq_u8(acc[i][v], c);
        }
      }
    }
  }
  for (int i = 0; i < P; ++i) {
    for (int v = 0; v < V; ++v) {
      vst1q_s32(out + i * CB + 4 * v, vreinterpretq_s32_u32(vpaddlq_u16(acc[i][v])));
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

template <int MAXP, int V>
void run_many(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
              int ntiles, int p_last, int32_t* out) {
  for (int k = 0; k + 1 < ntiles; ++k) {
    tile<MAXP, MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w,
                        out + k * MAXP * 4 * V);
  }
  const int k = ntiles - 1;
  run<MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w, p_last,
               out + k * MAXP * 4 * V);
}

const BconvMicrokernel k4x16{"bconv_neon_4x16", Isa::kNeon, 4, 16, &run<4, 4>, false, nullptr,
                             &run_many<4, 4>};
const BconvMicrokernel k8x8{"bconv_neon_8x8", Isa::kNeon, 8, 8, &run<8, 2>, false, nullptr,
                             &run_many<8, 2>};

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) { return cout_g > 8 ? &k4x16 : &k8x8; }

}  // namespace bnnflow::neon
