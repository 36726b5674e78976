// How a fused micro-kernel reads the input pixels of one tile (TileRows, bconv.h): through the
// driver's indirection rows, or — for a tile whose windows all lie inside the input — from each
// pixel's window origin plus the per-call tap offsets. Included only by ISA micro-kernel files;
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

// Windows inside the input: tap t of pixel i at base[i] + tap_off[t].
struct DirectRows {
  const uint32_t* const* base;
  const size_t* tap_off;
  const uint32_t* pixel(int t, int i) const { return base[i] + tap_off[t]; }
};

// Tile t of a group of full tiles calls f(rows) with its reader: f is a generic lambda that
// instantiates the micro-kernel for both kinds.
template <int MAXP, class F>
inline __attribute__((always_inline)) void with_tile_rows(const TileRows& rows, int taps, int t,
                                                          const F& f) {
  if (rows.direct[t]) {
    f(DirectRows{rows.base + t * MAXP, rows.tap_off});
  } else {
    f(TableRows<MAXP>{rows.x + static_cast<size_t>(t) * taps * MAXP});
  }
}

}  // namespace
}  // namespace bnnflow
