// Binary dense layer (bit-GEMM) on packed rows (docs/numerics.md §4):
//   d[n, o] = K − 2·popcount(x[n] xor w[o]),  K = cin,
// with the same fused epilogues as bconv2d. A dense layer is a 1x1 convolution over a 1 x N
// "image" whose pixels are the batch rows (n images of 1x1 pixel), so it runs on the bconv micro-kernels (pixel tiles
// become batch tiles) and uses the same prepared-weight layout.
#pragma once
#include <cstdint>

#include "kernels/bconv/bconv.h"

namespace bnnflow {

// w: packed [cout][ceil(cin/32)].
BconvWeights prepare_bdense_weights(const uint32_t* w, int cout, int cin, Isa isa);

// x: packed [n][ceil(cin/32)]; out: [n][cout] (int32/float/int8) or packed words. Makes its
// plan per call (allocations); plan_bdense once for repeated calls.
void bdense(const BconvWeights& w, const uint32_t* x, int n, const Epilogue& ep, void* out,
            ThreadPool& pool);

// The plan of bdense(w, ·, any n, ep, ·): that of a 1x1 convolution of n 1x1 images (bconv2d
// tiles run flat over the batch's pixels, i.e. the rows). Must not outlive w or ep's arrays.
std::shared_ptr<const BconvPlan> plan_bdense(const BconvWeights& w, const Epilogue& ep);

// bdense with a plan from plan_bdense (ep as there but for post / tail): no allocation on the
// call path once warm.
void bdense(const BconvPlan& plan, const uint32_t* x, int n, const Epilogue& ep, void* out,
            ThreadPool& pool);

}  // namespace bnnflow
