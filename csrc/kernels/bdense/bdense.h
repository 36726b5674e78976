// Binary dense layer (bit-GEMM) on packed rows (docs/numerics.md §4):
//   d[n, o] = K − 2·popcount(x[n] xor w[o]),  K = cin,
// with the same fused epilogues as bconv2d. A dense layer is a 1x1 convolution over a 1 x N
// "image" whose pixels are the batch rows, so it runs on the bconv micro-kernels (pixel tiles
// become batch tiles) and uses the same prepared-weight layout.
#pragma once
#include <cstdint>

#include "kernels/bconv/bconv.h"

namespace bnnflow {

// w: packed [cout][ceil(cin/32)].
BconvWeights prepare_bdense_weights(const uint32_t* w, int cout, int cin, Isa isa);

// x: packed [n][ceil(cin/32)]; out: [n][cout] (int32/float/int8) or packed words.
void bdense(const BconvWeights& w, const uint32_t* x, int n, const Epilogue& ep, void* out,
            ThreadPool& pool);

}  // namespace bnnflow
