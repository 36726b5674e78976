// AVX2 tile epilogue of the binary convolution: 8 channels per step for the int32, float32,
// int8 (int32 requant with per-lane vpsravd when exact, see EpilogueWriter::int8_fits_32)
// and packed (vpcmpgtd + vmovmskps) outputs; channel tails and unusual packed layouts take
// the portable path.
#include <immintrin.h>

#include <cstring>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_tile_driver.h"
#include "kernels/bconv/epilogue.h"
#include "kernels/bconv/epilogue_avx2.h"

namespace bnnflow::avx2 {
namespace {

using ep::load8;
using ep::packed_slot;
using ep::store8;

template <EpilogueKind kKind, bool kClamp>
void finish_impl(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                 const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  const int nv = nc / 8 * 8;
  const __m256i lo = _mm256_set1_epi32(w.ep.lo), hi = _mm256_set1_epi32(w.ep.hi);
  int word[kMaxBlock / 8] = {}, bit[kMaxBlock / 8] = {};
  if constexpr (kKind == EpilogueKind::kPacked) {
    for (int c = 0; c < nv; c += 8) packed_slot(w, o0 + c, &word[c / 8], &bit[c / 8]);
  }
  for (int i = 0; i < p; ++i) {
    const int32_t* si = s + i * cb;
    const int32_t* kr = krow[i];
    const __m256i kv = _mm256_set1_epi32(k[i]);
    // Packed: bits of consecutive chunks gather in a register, one OR per output word.
    uint32_t* row = static_cast<uint32_t*>(w.out) + (pix0 + i) * w.row_elems;
    int cur_word = -1;
    uint32_t cur_bits = 0;
    for (int c = 0; c < nv; c += 8) {
      const __m256i kk = kr ? load8(kr + o0 + c) : kv;
      __m256i d = _mm256_sub_epi32(kk, _mm256_slli_epi32(load8(si + c), 1));
      if constexpr (kClamp) d = _mm256_min_epi32(_mm256_max_epi32(d, lo), hi);
      if constexpr (kKind == EpilogueKind::kPacked) {
        const int wd = word[c / 8];
        if (wd >= 0) {
          const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_ps(
              _mm256_castsi256_ps(_mm256_cmpgt_epi32(load8(w.ep.threshold + o0 + c), d))));
          if (wd != cur_word) {
            if (cur_word >= 0) row[cur_word] |= cur_bits;
            cur_word = wd;
            cur_bits = 0;
          }
          cur_bits |= bits << bit[c / 8];
          continue;
        }
      }
      store8<kKind>(w, d, pix0 + i, o0 + c, word[c / 8], bit[c / 8]);
    }
    if (cur_word >= 0) row[cur_word] |= cur_bits;
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

}  // namespace bnnflow::avx2


