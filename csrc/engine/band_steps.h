// Band chains (docs/runtime.md, "Fused steps"): a run of int8 ops that each read a window of
// rows of the one before — conv2d_int8, dwconv2d_int8,
// maxpool_int8, sumpool_int8, requant32, requant, pwl — as one step that computes the last
// op's output in bands of rows, each link's rows in a small per-thread buffer that stays in
// cache; no tensor in between exists. The stem (conv + requant32 + max pool + requant), the
// downsample shortcut (sum pool + requant32 + 1x1 conv + requant32), QuickNet's stem and its
// transitions (max pool + blur dwconv + requant32 + conv + requant32) are such chains.
//
// Each link runs the op's own kernel of the model's ISA on a row window: its input rows as a
// tensor of one sample whose top / bottom padding is what of the op's padding the window
// reaches, so every output row is computed from the same inputs and the same padding as in
// the whole op: the chain equals the separate steps bit for bit on every ISA.
#pragma once
#include <cstddef>
#include <vector>

#include "engine/steps.h"

namespace bnnflow::engine {

// Whether `op` can be a link: one of the kinds above on rank-4 NHWC tensors, every output row
// reading at least one input row inside the image (padding above / below < the window).
bool is_band_op(const ValidGraph& g, const ValidOp& op);

// One step running `ops` (each link's input the previous link's output, read by nothing
// else; at least two links; all is_band_op): inputs {first op's input}, output the last
// op's. band_bytes: the budget of link buffers per thread (below). Throws
// std::invalid_argument when this build lacks a kernel for `isa`.
Step make_band_chain_step(const ValidGraph& g, const std::vector<const ValidOp*>& ops, Isa isa,
                          std::size_t band_bytes);

// Bytes of link buffers per thread a band may use: the band is the most rows of the last op's
// output whose buffers fit (at least one row). A quarter of a Zen 4 L2: bigger bands amortise
// the per-call set-up of the kernels (the convolution stages its input window). The
// environment variable BNNFLOW_BAND_BYTES (read at load) sets another budget.
inline constexpr std::size_t kBandBudget = 256 * 1024;

// How threads split a chain (docs/runtime.md, "Band chains"): the units of work are the bands
// of every sample (n * ceil(h / band) of them, h = rows of the last output), cut into one
// contiguous range per thread (split_range). largest_band_share is the largest range's cost:
// its rows plus one row per band for the per-band overhead (kernel set-up, halo rows
// recomputed). balanced_band is the band a run uses: `planned` on one thread, else of
// 1 .. planned (no more buffer than planned) the one with the smallest largest share, the
// widest of equals. A 28-row output planned as bands of 11 rows gives 3 bands, 22 + 6 rows on
// 2 threads; bands of 7 rows give 14 + 14.
std::size_t largest_band_share(std::size_t h, std::size_t band, std::size_t n,
                               std::size_t threads);
std::size_t balanced_band(std::size_t h, std::size_t planned, std::size_t n,
                          std::size_t threads);

}  // namespace bnnflow::engine
