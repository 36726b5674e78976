// Scalar twin of the binary convolution micro-kernels: 4 pixels x 8 channels, 32-bit popcount.
#include <cstdint>

#include "kernels/bconv/bconv_isa.h"

namespace bnnflow::scalar {
namespace {

constexpr int kMaxP = 4, kBlock = 8;

template <int P>
void tile(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
          int32_t* out) {
  int32_t acc[P][kBlock] = {};
  for (int t = 0; t < taps; ++t) {
    const uint32_t* wt = w + static_cast<size_t>(t) * wg * kBlock;
    for (int j = 0; j < wg; ++j) {
      for (int i = 0; i < P; ++i) {
        const uint32_t a = x[t * kMaxP + i][xoff + j];
        for (int c = 0; c < kBlock; ++c) acc[i][c] += __builtin_popcount(a ^ wt[j * kBlock + c]);
      }
    }
  }
  for (int i = 0; i < P; ++i) {
    for (int c = 0; c < kBlock; ++c) out[i * kBlock + c] = acc[i][c];
  }
}

template <int P = kMaxP>
void run(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w, int p,
         int32_t* out) {
  if (p == P) {
    tile<P>(x, taps, wg, xoff, w, out);
  } else if constexpr (P > 1) {
    run<P - 1>(x, taps, wg, xoff, w, p, out);
  }
}

const BconvMicrokernel kKernel{"bconv_scalar_4x8", Isa::kScalar, kMaxP, kBlock, &run<>};

}  // namespace

const BconvMicrokernel* bconv_microkernel(int /*cout_g*/) { return &kKernel; }

}  // namespace bnnflow::scalar
