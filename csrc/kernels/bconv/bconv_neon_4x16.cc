// NEON (AArch64) binary convolution micro-kernels: output channels in the 4 32-bit lanes,
// activation words broadcast, eor + cnt (per-byte popcount) + uadalp into 16-bit accumulators
// (exact: a 16-bit lane sums at most K < 65536 bits), widened to 32 bits at the end.
// Tiles: 4 pixels x 16 channels; 8 pixels x 8 channels for narrow groups. Full channel blocks
// finish in registers (d = K − 2·sum, clamp, epilogue: epilogue_neon.h); the rest go through
// the tile epilogue of bconv_epilogue_neon_16.cc.
#include <cstdint>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_rows.h"
#include "kernels/bconv/epilogue_neon.h"
#include "kernels/glue_common/arm_neon.h"

namespace bnnflow::BNNFLOW_NEON_NS {
TileEpilogueFn bconv_epilogue();
namespace {

// sum[i][v] = popcount sums of pixel i, channels 4v..4v+3 of the block.
template <int P, int V, class Rows>
inline __attribute__((always_inline)) void accumulate(const Rows& rows, int taps, int wg,
                                                      int xoff, const uint32_t* w,
                                                      int32x4_t (&sum)[P][V]) {
  constexpr int CB = 4 * V;
  uint16x8_t acc[P][V];
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = vdupq_n_u16(0);
  for (int t = 0; t < taps; ++t) {
    const uint32_t* xs[P];
    for (int i = 0; i < P; ++i) xs[i] = rows.pixel(t, i) + xoff;
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
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) sum[i][v] = vreinterpretq_s32_u32(vpaddlq_u16(acc[i][v]));
}

template <int MAXP, int P, int V>
inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps, int wg,
                                                int xoff, const uint32_t* w, int32_t* out) {
  constexpr int CB = 4 * V;
  int32x4_t sum[P][V];
  accumulate<P, V>(TableRows<MAXP>{x}, taps, wg, xoff, w, sum);
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) vst1q_s32(out + i * CB + 4 * v, sum[i][v]);
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

// A full channel block of P pixels finished in registers (docs: FusedRunFn): the whole
// block (4·V channels) is one epilogue chunk.
template <int P, int V, EpilogueKind kKind, bool kClamp, class Rows>
inline __attribute__((always_inline)) void tile_finish(const Rows& rows, int taps, int wg,
                                                       int xoff, const uint32_t* w,
                                                       const EpilogueWriter& ew,
                                                       const int32_t* k,
                                                       const int32_t* const* krow, size_t pix0,
                                                       int o0, int word, int bit) {
  int32x4_t sum[P][V];
  accumulate<P, V>(rows, taps, wg, xoff, w, sum);
  for (int i = 0; i < P; ++i) {
    ep::PackedRow packed(static_cast<uint32_t*>(ew.out) + (pix0 + i) * ew.row_elems);
    ep::finish<V, kKind, kClamp>(ew, sum[i], k[i], krow[i], pix0 + i, o0, word, bit, &packed);
    if constexpr (kKind == EpilogueKind::kPacked) packed.flush();
  }
}

// The last tile of a group when it is partial (never direct).
template <int MAXP, int V, EpilogueKind kKind, bool kClamp, int P = MAXP - 1>
void last_tile_finish(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
                      int p, const EpilogueWriter& ew, const int32_t* k,
                      const int32_t* const* krow, size_t pix0, int o0, int word, int bit) {
  if (p == P) {
    tile_finish<P, V, kKind, kClamp>(TableRows<MAXP>{x}, taps, wg, xoff, w, ew, k, krow, pix0,
                                     o0, word, bit);
  } else if constexpr (P > 1) {
    last_tile_finish<MAXP, V, kKind, kClamp, P - 1>(x, taps, wg, xoff, w, p, ew, k, krow, pix0,
                                                    o0, word, bit);
  }
}

template <int MAXP, int V, EpilogueKind kKind, bool kClamp>
void run_many_finish_impl(const TileRows& rows, int taps, int wg, int xoff, const uint32_t* w,
                          int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                          const int32_t* const* krow, const size_t* pix0, int o0) {
  int word = 0, bit = 0;
  if constexpr (kKind == EpilogueKind::kPacked) ep::packed_slot<4 * V>(ew, o0, &word, &bit);
  const int nfull = p_last == MAXP ? ntiles : ntiles - 1;
  for (int t = 0; t < nfull; ++t) {
    with_tile_rows<MAXP>(rows, taps, t, [&](const auto& tr) {
      tile_finish<MAXP, V, kKind, kClamp>(tr, taps, wg, xoff, w, ew, k + t * MAXP,
                                          krow + t * MAXP, pix0[t], o0, word, bit);
    });
  }
  if (nfull == ntiles) return;
  const int t = ntiles - 1;
  last_tile_finish<MAXP, V, kKind, kClamp>(rows.x + static_cast<size_t>(t) * taps * MAXP, taps,
                                           wg, xoff, w, p_last, ew, k + t * MAXP,
                                           krow + t * MAXP, pix0[t], o0, word, bit);
}

template <int MAXP, int V, EpilogueKind kKind>
void run_many_finish_kind(const TileRows& x, int taps, int wg, int xoff, const uint32_t* w,
                          int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                          const int32_t* const* krow, const size_t* pix0, int o0) {
  if (ew.clamp) {
    run_many_finish_impl<MAXP, V, kKind, true>(x, taps, wg, xoff, w, ntiles, p_last, ew, k,
                                               krow, pix0, o0);
  } else {
    run_many_finish_impl<MAXP, V, kKind, false>(x, taps, wg, xoff, w, ntiles, p_last, ew, k,
                                                krow, pix0, o0);
  }
}

// The driver calls this only when the int8 requant is exact in 32 bits (int8_fits_32).
template <int MAXP, int V>
void run_many_finish(const TileRows& x, int taps, int wg, int xoff, const uint32_t* w,
                     int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                     const int32_t* const* krow, const size_t* pix0, int o0) {
  switch (ew.ep.kind) {
    case EpilogueKind::kInt32:
      return run_many_finish_kind<MAXP, V, EpilogueKind::kInt32>(x, taps, wg, xoff, w, ntiles,
                                                                 p_last, ew, k, krow, pix0, o0);
    case EpilogueKind::kFloat:
      return run_many_finish_kind<MAXP, V, EpilogueKind::kFloat>(x, taps, wg, xoff, w, ntiles,
                                                                 p_last, ew, k, krow, pix0, o0);
    case EpilogueKind::kInt8:
      return run_many_finish_kind<MAXP, V, EpilogueKind::kInt8>(x, taps, wg, xoff, w, ntiles,
                                                                p_last, ew, k, krow, pix0, o0);
    case EpilogueKind::kPacked:
      return run_many_finish_kind<MAXP, V, EpilogueKind::kPacked>(x, taps, wg, xoff, w, ntiles,
                                                                  p_last, ew, k, krow, pix0, o0);
  }
}

#if defined(BNNFLOW_GLUE_SIMDE_NEON)
#define BNNFLOW_BCONV_NEON_NAME(tile) "bconv_neon_simde_" tile
#else
#define BNNFLOW_BCONV_NEON_NAME(tile) "bconv_neon_" tile
#endif

const BconvMicrokernel k4x16{BNNFLOW_BCONV_NEON_NAME("4x16"), Isa::kNeon, 4, 16, &run<4, 4>,
                             false, bconv_epilogue(), &run_many<4, 4>,
                             &run_many_finish<4, 4>};
const BconvMicrokernel k8x8{BNNFLOW_BCONV_NEON_NAME("8x8"), Isa::kNeon, 8, 8, &run<8, 2>, false,
                            bconv_epilogue(), &run_many<8, 2>, &run_many_finish<8, 2>};

#undef BNNFLOW_BCONV_NEON_NAME

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) { return cout_g > 8 ? &k4x16 : &k8x8; }

}  // namespace bnnflow::BNNFLOW_NEON_NS
