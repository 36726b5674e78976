// NEON tile epilogue of the binary convolution: 16 channels per step, then 4, for the int32,
// float32, int8 (int32 requant with per-lane sshl and saturating sqxtn when exact, see
// EpilogueWriter::int8_fits_32) and packed (cmlt + weighted addv) outputs; the last nc % 4
// channels take the portable path. Used for tiles the micro-kernel does not finish in
// registers (partial channel blocks, the int8 requant that needs 64 bits).
#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_tile_driver.h"
#include "kernels/bconv/epilogue.h"
#include "kernels/bconv/epilogue_neon.h"

namespace bnnflow::BNNFLOW_NEON_NS {
namespace {

template <EpilogueKind kKind, bool kClamp>
void finish_impl(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                 const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  const int n16 = nc / 16 * 16, n4 = nc / 4 * 4;
  // Packed: word and bit of each 16-channel chunk, then of each 4-channel chunk (<= 3).
  int word16[kMaxBlock / 16] = {}, bit16[kMaxBlock / 16] = {}, word4[3] = {}, bit4[3] = {};
  if constexpr (kKind == EpilogueKind::kPacked) {
    for (int c = 0; c < n16; c += 16) {
      ep::packed_slot<16>(w, o0 + c, &word16[c / 16], &bit16[c / 16]);
    }
    for (int c = n16; c < n4; c += 4) {
      ep::packed_slot<4>(w, o0 + c, &word4[(c - n16) / 4], &bit4[(c - n16) / 4]);
    }
  }
  for (int i = 0; i < p; ++i) {
    const int32_t* si = s + i * cb;
    const int32_t* kr = krow[i];
    ep::PackedRow packed(static_cast<uint32_t*>(w.out) + (pix0 + i) * w.row_elems);
    for (int c = 0; c < n16; c += 16) {
      const int32x4_t v[4] = {vld1q_s32(si + c), vld1q_s32(si + c + 4), vld1q_s32(si + c + 8),
                              vld1q_s32(si + c + 12)};
      ep::finish<4, kKind, kClamp>(w, v, k[i], kr, pix0 + i, o0 + c, word16[c / 16],
                                   bit16[c / 16], &packed);
    }
    for (int c = n16; c < n4; c += 4) {
      const int32x4_t v[1] = {vld1q_s32(si + c)};
      ep::finish<1, kKind, kClamp>(w, v, k[i], kr, pix0 + i, o0 + c, word4[(c - n16) / 4],
                                   bit4[(c - n16) / 4], &packed);
    }
    if constexpr (kKind == EpilogueKind::kPacked) packed.flush();
    if (n4 < nc) w.write(si + n4, k[i], kr, pix0 + i, o0 + n4, nc - n4);
  }
}

struct Finish {
  template <EpilogueKind kKind, bool kClamp>
  static void run(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                  const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
    finish_impl<kKind, kClamp>(w, s, cb, k, krow, pix0, p, o0, nc);
  }
};

void finish(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
            const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  // The int8 requant that needs 64 bits (not int8_fits_32) takes the portable path.
  if (w.ep.kind == EpilogueKind::kInt8 && !w.int8_fits_32) {
    return finish_tile_scalar(w, s, cb, k, krow, pix0, p, o0, nc);
  }
  with_epilogue<Finish>(w, s, cb, k, krow, pix0, p, o0, nc);
}

}  // namespace

TileEpilogueFn bconv_epilogue() { return &finish; }

}  // namespace bnnflow::BNNFLOW_NEON_NS
