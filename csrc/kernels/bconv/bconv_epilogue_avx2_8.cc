// AVX2 tile epilogue of the binary convolution: 8 channels per step for the int32, float32,
// int8 (int32 requant with per-lane vpsravd when exact, see EpilogueWriter::int8_fits_32)
// and packed (vpcmpgtd + vmovmskps) outputs; channel tails and unusual packed layouts take
// the portable path.
#include <immintrin.h>

#include <cstring>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/epilogue.h"

// float epilogue: float32(d)·scale rounded, then + bias rounded — never a fused multiply-add,
// so every ISA gives the reference's bits.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace bnnflow::avx2 {
namespace {

inline __m256i load8(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline void store_int8x8(int8_t* y, __m256i v) {  // v in [-128, 127]
  const __m256i w16 = _mm256_packs_epi32(v, v);      // per lane: v0..3 v0..3 | v4..7 v4..7
  const __m256i w8 = _mm256_packs_epi16(w16, w16);
  const int lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(w8));
  const int hi = _mm_cvtsi128_si32(_mm256_extracti128_si256(w8, 1));
  std::memcpy(y, &lo, 4);
  std::memcpy(y + 4, &hi, 4);
}

// 8 channels o..o+7 of pixel `pix`, d already clamped.
template <EpilogueKind kKind>
inline void store8(const EpilogueWriter& w, __m256i d, size_t pix, int o) {
  const Epilogue& ep = w.ep;
  if constexpr (kKind == EpilogueKind::kInt32) {
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(static_cast<int32_t*>(w.out) + pix * w.row_elems + o), d);
  } else if constexpr (kKind == EpilogueKind::kFloat) {
    const __m256 y = _mm256_add_ps(
        _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(ep.scale + o)),
        _mm256_loadu_ps(ep.bias + o));
    _mm256_storeu_ps(static_cast<float*>(w.out) + pix * w.row_elems + o, y);
  } else if constexpr (kKind == EpilogueKind::kInt8) {
    const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
    const __m256i q = _mm256_min_epi32(_mm256_max_epi32(d, lo), hi);
    const __m256i m =
        _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ep.mult + o)));
    const __m256i sh = load8(ep.shift + o);
    const __m256i r = _mm256_srli_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), sh), 1);
    const __m256i v =
        _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(m, q), load8(ep.offset + o)), r);
    const __m256i y = _mm256_min_epi32(_mm256_max_epi32(_mm256_srav_epi32(v, sh), lo), hi);
    store_int8x8(static_cast<int8_t*>(w.out) + pix * w.row_elems + o, y);
  } else {
    const int g = o / w.og_ch, oc = o % w.og_ch;
    const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_ps(
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(load8(ep.threshold + o), d))));
    uint32_t* row = static_cast<uint32_t*>(w.out) + pix * w.row_elems;
    if (oc + 8 <= w.og_ch && oc % 32 <= 24) {
      row[g * w.og_words + oc / 32] |= bits << (oc % 32);
    } else {
      for (int b = 0; b < 8; ++b) {
        if (!(bits >> b & 1u)) continue;
        const int gg = (o + b) / w.og_ch, cc = (o + b) % w.og_ch;
        row[gg * w.og_words + cc / 32] |= 1u << (cc % 32);
      }
    }
  }
}

template <EpilogueKind kKind, bool kClamp>
void finish_impl(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                 const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  const int nv = nc / 8 * 8;
  const __m256i lo = _mm256_set1_epi32(w.ep.lo), hi = _mm256_set1_epi32(w.ep.hi);
  for (int i = 0; i < p; ++i) {
    const int32_t* si = s + i * cb;
    const int32_t* kr = krow[i];
    const __m256i kv = _mm256_set1_epi32(k[i]);
    for (int c = 0; c < nv; c += 8) {
      const __m256i kk = kr ? load8(kr + o0 + c) : kv;
      __m256i d = _mm256_sub_epi32(kk, _mm256_slli_epi32(load8(si + c), 1));
      if constexpr (kClamp) d = _mm256_min_epi32(_mm256_max_epi32(d, lo), hi);
      store8<kKind>(w, d, pix0 + i, o0 + c);
    }
    if (nv < nc) w.write(si + nv, k[i], kr, pix0 + i, o0 + nv, nc - nv);
  }
}

template <EpilogueKind kKind>
void finish_kind(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                 const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  if (w.clamp) {
    finish_impl<kKind, true>(w, s, cb, k, krow, pix0, p, o0, nc);
  } else {
    finish_impl<kKind, false>(w, s, cb, k, krow, pix0, p, o0, nc);
  }
}

void finish(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
            const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  switch (w.ep.kind) {
    case EpilogueKind::kInt32:
      return finish_kind<EpilogueKind::kInt32>(w, s, cb, k, krow, pix0, p, o0, nc);
    case EpilogueKind::kFloat:
      return finish_kind<EpilogueKind::kFloat>(w, s, cb, k, krow, pix0, p, o0, nc);
    case EpilogueKind::kInt8:
      if (!w.int8_fits_32) return finish_tile_scalar(w, s, cb, k, krow, pix0, p, o0, nc);
      return finish_kind<EpilogueKind::kInt8>(w, s, cb, k, krow, pix0, p, o0, nc);
    case EpilogueKind::kPacked:
      return finish_kind<EpilogueKind::kPacked>(w, s, cb, k, krow, pix0, p, o0, nc);
  }
}

}  // namespace

TileEpilogueFn bconv_epilogue() { return &finish; }

}  // namespace bnnflow::avx2

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

