// NEON (AArch64) binary convolution micro-kernels: output channels in the 4 32-bit lanes,
// activation words broadcast, eor + cnt (per-byte popcount) + uadalp into 16-bit accumulators
// (exact: a 16-bit lane sums at most K < 65536 bits), widened to 32 bits at the end.
// Tiles: 4 pixels x 16 channels; 8 pixels x 8 channels for narrow groups. Full channel blocks
// finish in registers (d = K − 2·sum, clamp, epilogue: epilogue_neon.h); the rest go through
// the tile epilogue of bconv_epilogue_neon_16.cc.
#include <cstdint>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_tile_driver.h"
#include "kernels/bconv/epilogue_neon.h"
#include "kernels/common/isa_neon.h"

namespace bnnflow::BNNFLOW_NEON_NS {
TileEpilogueFn bconv_epilogue();
namespace {

constexpr int kVecLanes = 4;  // int32 lanes of a uint32x4_t

// sum[i][v] = popcount sums of pixel i, channels 4v..4v+3 of the block.
template <int P, int V, class Rows>
inline __attribute__((always_inline)) void accumulate(const Rows& rows, int taps, int wg,
                                                      int xoff, const uint32_t* w,
                                                      int32x4_t (&sum)[P][V]) {
  constexpr int CB = kVecLanes * V;
  uint16x8_t acc[P][V];
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = vdupq_n_u16(0);
  for (int t = 0; t < taps; ++t) {
    const uint32_t* xs[P];
    for (int i = 0; i < P; ++i) xs[i] = rows.pixel(t, i) + xoff;
    const uint32_t* wt = w + static_cast<size_t>(t) * wg * CB;
    for (int j = 0; j < wg; ++j) {
      uint32x4_t wv[V];
      for (int v = 0; v < V; ++v) wv[v] = vld1q_u32(wt + j * CB + kVecLanes * v);
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

struct Tile {
  static constexpr Isa kIsa = Isa::kNeon;
  static constexpr int kLanes = kVecLanes;
  static constexpr bool kSplitNibbles = false;

  template <int MAXP, int P, int V>
  static inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps,
                                                         int wg, int xoff, const uint32_t* w,
                                                         int32_t* out) {
    constexpr int CB = kLanes * V;
    int32x4_t sum[P][V];
    accumulate<P, V>(TableRows<MAXP>{x}, taps, wg, xoff, w, sum);
    for (int i = 0; i < P; ++i)
      for (int v = 0; v < V; ++v) vst1q_s32(out + i * CB + kLanes * v, sum[i][v]);
  }

  // Packed: the whole block (kLanes·V channels) is one epilogue chunk, one word and bit.
  template <int V>
  struct Slots {
    int word, bit;
  };
  template <int V>
  static void packed_slots(const EpilogueWriter& ew, int o0, Slots<V>* s) {
    ep::packed_slot<kLanes * V>(ew, o0, &s->word, &s->bit);
  }

  // A full channel block of P pixels finished in registers (docs: FusedRunFn): the whole
  // block (4·V channels) is one epilogue chunk.
  template <int P, int V, EpilogueKind kKind, bool kClamp, bool kTail, class Rows>
  static inline __attribute__((always_inline)) void tile_finish(
      const Rows& rows, int taps, int wg, int xoff, const uint32_t* w, const EpilogueWriter& ew,
      const int32_t* k, const int32_t* const* krow, size_t pix0, int o0, const Slots<V>& slots) {
    int32x4_t sum[P][V];
    accumulate<P, V>(rows, taps, wg, xoff, w, sum);
    if constexpr (kTail) {
      const ep::TailRun tr(ew);
      const int32x4_t lo = vdupq_n_s32(ew.ep.lo), hi = vdupq_n_s32(ew.ep.hi);
      for (int i = 0; i < P; ++i) {
        ep::PackedRow packed(tr.bits_row(pix0 + i));
        ep::finish_tail<V, kClamp>(tr, lo, hi, sum[i], k[i], krow[i], pix0 + i, o0, slots.word,
                                   slots.bit, &packed);
        packed.flush();
      }
      return;
    }
    for (int i = 0; i < P; ++i) {
      ep::PackedRow packed(static_cast<uint32_t*>(ew.out) + (pix0 + i) * ew.row_elems);
      ep::finish<V, kKind, kClamp>(ew, sum[i], k[i], krow[i], pix0 + i, o0, slots.word,
                                   slots.bit, &packed);
      if constexpr (kKind == EpilogueKind::kPacked) packed.flush();
    }
  }
};

#define BNNFLOW_BCONV_NEON_KERNEL(name, maxp, v) \
  bconv_microkernel_of<Tile, maxp, v>("bconv_" BNNFLOW_NEON_ISA_NAME "_" name, bconv_epilogue())
const BconvMicrokernel k4x16 = BNNFLOW_BCONV_NEON_KERNEL("4x16", 4, 4);
const BconvMicrokernel k8x8 = BNNFLOW_BCONV_NEON_KERNEL("8x8", 8, 2);
#undef BNNFLOW_BCONV_NEON_KERNEL

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) { return cout_g > 8 ? &k4x16 : &k8x8; }

}  // namespace bnnflow::BNNFLOW_NEON_NS
