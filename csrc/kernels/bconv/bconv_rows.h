// How a micro-kernel reads the input pixels of one tile: through the driver's indirection rows
// (run, run_many), or from each pixel's window origin plus the per-call tap offsets (the fused
// form, TileRows of bconv.h). Included only by ISA micro-kernel files;
// TU-local, so no copy built with one ISA's flags can be linked into another.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/bconv/bconv.h"

namespace bnnflow {
namespace {

// Indirection rows of one tile: tap t of pixel i at x[t·MAXP + i].
// kTaps / kWords: 0 when the taps and words per tap are the call's (runtime), else the
// compile-time counts a micro-kernel may unroll (Fixed3x3Rows).
template <int MAXP>
struct TableRows {
  static constexpr int kTaps = 0, kWords = 0;
  const uint32_t* const* x;
  const uint32_t* pixel(int t, int i) const { return x[t * MAXP + i]; }
};

// Windows inside the input: tap t of pixel i at base[i] + tap_off[t].
struct DirectRows {
  static constexpr int kTaps = 0, kWords = 0;
  const uint32_t* const* base;
  const size_t* tap_off;
  const uint32_t* pixel(int t, int i) const { return base[i] + tap_off[t]; }
};

// A 3x3 window of 2-word taps (64 input channels, one group, no dilation): tap t = 3·ky + kx
// of pixel i at base[i] + ky·rs + 2·kx, so with t unrolled every word of the tile is a
// constant offset from the pixel's window origin and the row step (fixed3x3_row_step).
struct Fixed3x3Rows {
  static constexpr int kTaps = 9, kWords = 2;
  const uint32_t* const* base;
  size_t rs;  // words from one window row to the next
  const uint32_t* pixel(int t, int i) const {
    return base[i] + static_cast<size_t>(t / 3) * rs + (t % 3) * kWords;
  }
};

// The row step when the call's taps are Fixed3x3Rows' (9 taps of wg = 2 words, offsets
// ky·rs + 2·kx, the group's words at xoff = 0), else 0.
inline size_t fixed3x3_row_step(const size_t* tap_off, int taps, int wg, int xoff) {
  if (taps != 9 || wg != Fixed3x3Rows::kWords || xoff != 0) return 0;
  const size_t rs = tap_off[3];
  for (int t = 0; t < 9; ++t) {
    if (tap_off[t] != static_cast<size_t>(t / 3) * rs + (t % 3) * Fixed3x3Rows::kWords) return 0;
  }
  return rs;
}

}  // namespace
}  // namespace bnnflow
