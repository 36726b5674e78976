// AVX-512 tile epilogue of the binary convolution: 16 channels per step for the int32,
// float32, int8 (int32 requant with per-lane vpsravd and saturating vpmovsdb when exact, see
// EpilogueWriter::int8_fits_32) and packed (vpcmpgtd into a mask) outputs; channel tails take
// the portable path. Used for tiles the micro-kernel does not finish in registers (partial
// channel blocks, the int8 requant that needs 64 bits).
#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_tile_driver.h"
#include "kernels/bconv/epilogue.h"
#include "kernels/bconv/epilogue_avx512.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {

template <EpilogueKind kKind, bool kClamp>
void finish_impl(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                 const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  const int nv = nc / 16 * 16;
  int word[kMaxBlock / 16] = {}, bit[kMaxBlock / 16] = {};
  if constexpr (kKind == EpilogueKind::kPacked) {
    for (int c = 0; c < nv; c += 16) ep::packed_slot(w, o0 + c, &word[c / 16], &bit[c / 16]);
  }
  for (int i = 0; i < p; ++i) {
    const int32_t* si = s + i * cb;
    const int32_t* kr = krow[i];
    const __m512i kv = _mm512_set1_epi32(k[i]);
    ep::PackedRow packed(static_cast<uint32_t*>(w.out) + (pix0 + i) * w.row_elems);
    for (int c = 0; c < nv; c += 16) {
      const __m512i kk = kr ? ep::load16(kr + o0 + c) : kv;
      ep::finish16<kKind, kClamp>(w, ep::load16(si + c), kk, pix0 + i, o0 + c, word[c / 16],
                                  bit[c / 16], &packed);
    }
    if constexpr (kKind == EpilogueKind::kPacked) packed.flush();
    if (nv < nc) w.write(si + nv, k[i], kr, pix0 + i, o0 + nv, nc - nv);
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

}  // namespace bnnflow::BNNFLOW_AVX512_NS
