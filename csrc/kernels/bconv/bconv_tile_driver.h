// The ISA-independent part of the binary convolution micro-kernels (BconvMicrokernel,
// bconv.h), written once: the pixel-count dispatch of partial tiles (run), tile sequences
// (run_many), the fused tile loop over window origins with its partial last tile
// (run_many_finish), and the dispatch over the epilogue's kind and clamp. An ISA file supplies
// only its register tile, as a struct T in its anonymous namespace:
//
//   static constexpr Isa kIsa;
//   static constexpr int kLanes;           // int32 lanes per vector
//   static constexpr bool kSplitNibbles;   // operands nibble-split (BconvMicrokernel)
//   // P pixels x kLanes·V channels: popcount sums into out[P][kLanes·V]
//   template <int MAXP, int P, int V>
//   static void tile(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
//                    int32_t* out);
//   // packed epilogue: where the bits of one channel block go
//   template <int V> struct Slots;
//   template <int V> static void packed_slots(const EpilogueWriter&, int o0, Slots<V>*);
//   // P pixels finished in registers: d = K − 2·sum, clamp, epilogue; kTail (kInt8 only):
//   // then the residual tail of ew.tail (ResidualTail, bconv.h), the pack's bits placed by
//   // the same Slots (EpilogueWriter::enable_tail points og_ch / og_words at the pack)
//   template <int P, int V, EpilogueKind kKind, bool kClamp, bool kTail, class Rows>
//   static void tile_finish(const Rows& rows, int taps, int wg, int xoff, const uint32_t* w,
//                           const EpilogueWriter& ew, const int32_t* k,
//                           const int32_t* const* krow, size_t pix0, int o0,
//                           const Slots<V>& slots);
//
// and bconv_microkernel_of<T, MAXP, V>(name, epilogue) builds its table entry. Rows is
// DirectRows (bconv_rows.h). Everything here is TU-local (anonymous
// namespace), so each ISA object gets its own copy compiled with its own flags
// (docs/development.md, "Per-ISA objects").
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/bconv/bconv.h"
#include "kernels/bconv/bconv_rows.h"
#include "kernels/bconv/epilogue.h"

namespace bnnflow {
namespace {

// Calls F::template run<kKind, kClamp>(ew, args...) for the epilogue's kind and clamp.
template <class F, EpilogueKind kKind, class... A>
inline __attribute__((always_inline)) void with_clamp(const EpilogueWriter& ew, const A&... a) {
  if (ew.clamp) {
    F::template run<kKind, true>(ew, a...);
  } else {
    F::template run<kKind, false>(ew, a...);
  }
}
template <class F, class... A>
inline __attribute__((always_inline)) void with_epilogue(const EpilogueWriter& ew, const A&... a) {
  switch (ew.ep.kind) {
    case EpilogueKind::kInt32: return with_clamp<F, EpilogueKind::kInt32>(ew, a...);
    case EpilogueKind::kFloat: return with_clamp<F, EpilogueKind::kFloat>(ew, a...);
    case EpilogueKind::kInt8: return with_clamp<F, EpilogueKind::kInt8>(ew, a...);
    case EpilogueKind::kPacked: return with_clamp<F, EpilogueKind::kPacked>(ew, a...);
  }
}

// Whether a pixel of the tile has a K row (a window crossing the padding in mode 'zero'): the
// ISA tiles' epilogues pick their variant without a per-pixel K-row test when none has.
template <int P>
inline __attribute__((always_inline)) bool has_border(const int32_t* const* krow) {
  bool border = false;
  for (int i = 0; i < P; ++i) border |= krow[i] != nullptr;
  return border;
}

namespace bconv_driver {

// p (1..P) pixels: the tile of exactly p pixels.
template <class T, int MAXP, int V, int P = MAXP>
void run(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w, int p,
         int32_t* out) {
  if (p == P) {
    T::template tile<MAXP, P, V>(x, taps, wg, xoff, w, out);
  } else if constexpr (P > 1) {
    run<T, MAXP, V, P - 1>(x, taps, wg, xoff, w, p, out);
  }
}

template <class T, int MAXP, int V>
void run_many(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
              int ntiles, int p_last, int32_t* out) {
  constexpr int CB = T::kLanes * V;
  for (int k = 0; k + 1 < ntiles; ++k) {
    T::template tile<MAXP, MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w,
                                    out + k * MAXP * CB);
  }
  const int k = ntiles - 1;
  run<T, MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w, p_last,
                  out + k * MAXP * CB);
}

// The last tile of a group when it is partial: the tile of exactly p (< MAXP) pixels.
template <class T, int MAXP, int V, EpilogueKind kKind, bool kClamp, bool kTail,
          int P = MAXP - 1>
void last_tile_finish(const DirectRows& rows, int taps, int wg, int xoff, const uint32_t* w,
                      int p, const EpilogueWriter& ew, const int32_t* k,
                      const int32_t* const* krow, size_t pix0, int o0,
                      const typename T::template Slots<V>& slots) {
  if (p == P) {
    T::template tile_finish<P, V, kKind, kClamp, kTail>(rows, taps, wg, xoff, w, ew, k, krow,
                                                        pix0, o0, slots);
  } else if constexpr (P > 1) {
    last_tile_finish<T, MAXP, V, kKind, kClamp, kTail, P - 1>(rows, taps, wg, xoff, w, p, ew, k,
                                                              krow, pix0, o0, slots);
  }
}

template <class T, int MAXP, int V, EpilogueKind kKind, bool kClamp, bool kTail = false>
void run_many_finish_impl(const TileRows& rows, int taps, int wg, int xoff, const uint32_t* w,
                          int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                          const int32_t* const* krow, const size_t* pix0, int o0) {
  typename T::template Slots<V> slots{};
  if constexpr (kKind == EpilogueKind::kPacked || kTail) {
    T::template packed_slots<V>(ew, o0, &slots);
  }
  const int nfull = p_last == MAXP ? ntiles : ntiles - 1;
  for (int t = 0; t < nfull; ++t) {
    T::template tile_finish<MAXP, V, kKind, kClamp, kTail>(
        DirectRows{rows.base + t * MAXP, rows.tap_off, rows.row3}, taps, wg, xoff, w, ew,
        k + t * MAXP, krow + t * MAXP, pix0[t], o0, slots);
  }
  if (nfull == ntiles) return;
  const int t = ntiles - 1;
  last_tile_finish<T, MAXP, V, kKind, kClamp, kTail>(
      DirectRows{rows.base + t * MAXP, rows.tap_off, rows.row3}, taps, wg, xoff, w, p_last, ew,
      k + t * MAXP, krow + t * MAXP, pix0[t], o0, slots);
}

template <class T, int MAXP, int V>
struct ManyFinish {
  template <EpilogueKind kKind, bool kClamp>
  static void run(const EpilogueWriter& ew, const TileRows& rows, int taps, int wg, int xoff,
                  const uint32_t* w, int ntiles, int p_last, const int32_t* k,
                  const int32_t* const* krow, const size_t* pix0, int o0) {
    run_many_finish_impl<T, MAXP, V, kKind, kClamp>(rows, taps, wg, xoff, w, ntiles, p_last, ew,
                                                    k, krow, pix0, o0);
  }
};

// The driver calls this only when the int8 requant is exact in 32 bits (int8_fits_32).
template <class T, int MAXP, int V>
void run_many_finish(const TileRows& rows, int taps, int wg, int xoff, const uint32_t* w,
                     int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                     const int32_t* const* krow, const size_t* pix0, int o0) {
  if (ew.tail != nullptr) {  // kInt8 with the residual tail in registers (enable_tail)
    if (ew.clamp) {
      run_many_finish_impl<T, MAXP, V, EpilogueKind::kInt8, true, true>(
          rows, taps, wg, xoff, w, ntiles, p_last, ew, k, krow, pix0, o0);
    } else {
      run_many_finish_impl<T, MAXP, V, EpilogueKind::kInt8, false, true>(
          rows, taps, wg, xoff, w, ntiles, p_last, ew, k, krow, pix0, o0);
    }
    return;
  }
  with_epilogue<ManyFinish<T, MAXP, V>>(ew, rows, taps, wg, xoff, w, ntiles, p_last, k, krow,
                                        pix0, o0);
}

}  // namespace bconv_driver

// The table entry of T's MAXP x (kLanes·V) tile; kFused: full channel blocks finish in
// registers (run_many_finish), else every tile goes through `epilogue`.
template <class T, int MAXP, int V, bool kFused = true>
BconvMicrokernel bconv_microkernel_of(const char* name, TileEpilogueFn epilogue) {
  FusedRunFn fused = nullptr;
  if constexpr (kFused) fused = &bconv_driver::run_many_finish<T, MAXP, V>;
  return BconvMicrokernel{name,           T::kIsa,         MAXP,
                          T::kLanes * V,  &bconv_driver::run<T, MAXP, V>,
                          T::kSplitNibbles, epilogue,      &bconv_driver::run_many<T, MAXP, V>,
                          fused};
}

}  // namespace
}  // namespace bnnflow
