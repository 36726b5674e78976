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
template <int MAXP>
struct TableRows {
  const uint32_t* const* x;
  const uint32_t* pixel(int t, int i) const { return x[t * MAXP + i]; }
};

// Windows inside the input: tap t of pixel i at base[i] + tap_off[t]; row3 as TileRows's.
struct DirectRows {
  const uint32_t* const* base;
  const size_t* tap_off;
  ptrdiff_t row3 = 0;
  const uint32_t* pixel(int t, int i) const { return base[i] + tap_off[t]; }
};

}  // namespace
}  // namespace bnnflow
