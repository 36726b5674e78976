// AVX-512 binary convolution micro-kernels: output channels in the 16 32-bit lanes, activation
// words broadcast, vpxord + vpopcntd (VPOPCNTDQ) + vpaddd into 32-bit accumulators.
// Tiles: 6 pixels x 64 channels; 8 x 32 and 8 x 16 for narrow groups. Full channel blocks
// finish in registers (d = K − 2·sum, clamp, epilogue: epilogue_avx512.h); the rest go
// through the tile epilogue of bconv_epilogue_avx512_16.cc.
#include <cstdint>
#include <cstring>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_tile_driver.h"
#include "kernels/bconv/epilogue_avx512.h"
#include "kernels/common/isa_avx512.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
TileEpilogueFn bconv_epilogue();
namespace {

constexpr int kVecLanes = 16;  // int32 lanes of a __m512i

// One word step: acc[i][v] (+)= popcount(w[v] ^ x[i][j]); kFirst sets acc (the tile's first
// step: no zeroing and no add — 24 of the 6x64 tile's 72 vector ops of that step).
template <int P, int V, bool kFirst>
inline __attribute__((always_inline)) void word_step(const uint32_t* const (&xs)[P], int j,
                                                     const uint32_t* wj, __m512i (&acc)[P][V]) {
  __m512i wv[V];
  for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_si512(wj + kVecLanes * v);
  for (int i = 0; i < P; ++i) {
    const __m512i b = _mm512_set1_epi32(static_cast<int>(xs[i][j]));
    for (int v = 0; v < V; ++v) {
      const __m512i c = _mm512_popcnt_epi32(_mm512_xor_si512(wv[v], b));
      acc[i][v] = kFirst ? c : _mm512_add_epi32(acc[i][v], c);
    }
  }
}

// acc[i][v] = popcount sums of pixel i, channels 16v..16v+15 of the block (taps, wg >= 1).
template <int P, int V, class Rows>
inline __attribute__((always_inline)) void accumulate(const Rows& rows, int taps, int wg,
                                                      int xoff, const uint32_t* w,
                                                      __m512i (&acc)[P][V]) {
  constexpr int CB = kVecLanes * V;
  const uint32_t* xs[P];
  for (int i = 0; i < P; ++i) xs[i] = rows.pixel(0, i) + xoff;
  word_step<P, V, true>(xs, 0, w, acc);
  for (int j = 1; j < wg; ++j) word_step<P, V, false>(xs, j, w + j * CB, acc);
  for (int t = 1; t < taps; ++t) {
    for (int i = 0; i < P; ++i) xs[i] = rows.pixel(t, i) + xoff;
    const uint32_t* wt = w + static_cast<size_t>(t) * wg * CB;
    for (int j = 0; j < wg; ++j) word_step<P, V, false>(xs, j, wt + j * CB, acc);
  }
}

// The int8 epilogue of a 64-channel block of P pixels: d = K − 2·sum (K from the pixel's K
// row when kBorder and it has one), clamp, requant, and the pixel's 64 int8 values in one
// store. The parameter pointer and the output row advance by constants.
template <int P, bool kClamp, bool kBorder>
inline __attribute__((always_inline)) void int8_rows(const ep::Int8Run& ir,
                                                     const __m512i (&acc)[P][4],
                                                     const EpilogueWriter& ew, const int32_t* k,
                                                     const int32_t* const* krow, size_t pix0,
                                                     int o0) {
  const __m512i lo = _mm512_set1_epi32(ew.ep.lo), hi = _mm512_set1_epi32(ew.ep.hi);
  const int32_t* pm = ir.params + o0;
  const size_t st = ir.stride;
  int8_t* y = ir.out + pix0 * ir.row + o0;
#pragma GCC unroll 16
  for (int i = 0; i < P; ++i, y += ir.row) {
    const __m512i kv = _mm512_set1_epi32(k[i]);
    __m512i r[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      __m512i kk = kv;
      if constexpr (kBorder) {
        if (krow[i] != nullptr) kk = ep::load16(krow[i] + o0 + kVecLanes * v);
      }
      const __m512i q = ep::sat8(ep::d16<kClamp>(acc[i][v], kk, lo, hi));
      const int32_t* p = pm + kVecLanes * v;
      const __m512i mq = ep::madd16_add(ep::load16(p + st), q, ep::load16(p));
      r[v] = _mm512_srav_epi32(mq, ep::load16(p + 2 * st));
    }
    ep::store_int8x64(y, r[0], r[1], r[2], r[3]);
  }
}

// int8_rows in 16-bit lanes (ep::int8_q64); kBorder: a pixel with a K row takes its K from
// there (ep::k64_row).
template <int P, bool kBorder>
inline __attribute__((always_inline)) void int8_rows_q64(const ep::Int8Run& ir,
                                                         const __m512i (&acc)[P][4],
                                                         const EpilogueWriter& ew,
                                                         const int32_t* k,
                                                         const int32_t* const* krow, size_t pix0,
                                                         int o0) {
  const ep::Tail64 c(ew);
  const int32_t* pm = ew.int8_q64 + o0;
  int8_t* y = ir.out + pix0 * ir.row + o0;
#pragma GCC unroll 16
  for (int i = 0; i < P; ++i, y += ir.row) {
    if (kBorder && krow[i] != nullptr) {
      __m512i k16[2];
      ep::k64_row(krow[i] + o0, k16);
      ep::int8_q64(c, acc[i], k16, pm, ir.stride, y);
    } else {
      ep::int8_q64(c, acc[i], k[i], pm, ir.stride, y);
    }
  }
}

struct Tile {
  static constexpr Isa kIsa = Isa::kAvx512;
  static constexpr int kLanes = kVecLanes;
  static constexpr bool kSplitNibbles = false;

  template <int MAXP, int P, int V>
  static inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps,
                                                         int wg, int xoff, const uint32_t* w,
                                                         int32_t* out) {
    constexpr int CB = kLanes * V;
    __m512i acc[P][V];
    accumulate<P, V>(TableRows<MAXP>{x}, taps, wg, xoff, w, acc);
    for (int i = 0; i < P; ++i) {
      for (int v = 0; v < V; ++v) _mm512_storeu_si512(out + i * CB + kLanes * v, acc[i][v]);
    }
  }

  // Packed: the output word and bit of each 16-channel vector of the block.
  template <int V>
  struct Slots {
    int word[V], bit[V];
  };
  template <int V>
  static void packed_slots(const EpilogueWriter& ew, int o0, Slots<V>* s) {
    for (int v = 0; v < V; ++v) ep::packed_slot(ew, o0 + kLanes * v, &s->word[v], &s->bit[v]);
  }

  // The residual tail (kTail) of a block of P pixels: d = K − 2·sum (K from the pixel's K row
  // when kBorder and it has one), clamp, tail16 per 16 channels, the pack's bits per pixel.
  template <int P, int V, bool kClamp, bool kBorder>
  static inline __attribute__((always_inline)) void tail_rows(
      const __m512i (&acc)[P][V], const EpilogueWriter& ew, const int32_t* k,
      const int32_t* const* krow, size_t pix0, int o0, const Slots<V>& slots) {
    const ep::TailRun tr(ew);
    const __m512i lo = _mm512_set1_epi32(ew.ep.lo), hi = _mm512_set1_epi32(ew.ep.hi);
#pragma GCC unroll 16
    for (int i = 0; i < P; ++i) {
      const __m512i kv = _mm512_set1_epi32(k[i]);
      ep::PackedRow packed(tr.bits_row(pix0 + i));
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        __m512i kk = kv;
        if constexpr (kBorder) {
          if (krow[i] != nullptr) kk = ep::load16(krow[i] + o0 + kLanes * v);
        }
        const __m512i d = ep::d16<kClamp>(acc[i][v], kk, lo, hi);
        const uint32_t bits = ep::tail16(tr, d, pix0 + i, o0 + kLanes * v);
        if (tr.bits != nullptr) packed.add(slots.word[v], slots.bit[v], bits);
      }
      packed.flush();
    }
  }

  // The residual tail of a 64-channel block of P pixels in 16-bit lanes (ep::tail64;
  // EpilogueWriter::tail_q64): the pack's 64 bits of a pixel are two whole words, stored at
  // once. kBorder: a pixel with a K row takes its K from there (ep::k64_row).
  template <int P, bool kPwl, bool kBorder>
  static inline __attribute__((always_inline)) void tail64_rows(
      const ep::TailRun& tr, const __m512i (&acc)[P][4], const EpilogueWriter& ew,
      const int32_t* k, const int32_t* const* krow, size_t pix0, int o0) {
    const ep::Tail64 c(ew);
    const int word = o0 / ew.og_ch * ew.og_words + o0 % ew.og_ch / 32;
#pragma GCC unroll 16
    for (int i = 0; i < P; ++i) {
      uint64_t bits;
      if (kBorder && krow[i] != nullptr) {
        __m512i k16[2];
        ep::k64_row(krow[i] + o0, k16);
        bits = ep::tail64<kPwl>(tr, c, acc[i], k16, pix0 + i, o0);
      } else {
        bits = ep::tail64<kPwl>(tr, c, acc[i], k[i], pix0 + i, o0);
      }
      if (tr.bits != nullptr) std::memcpy(tr.bits_row(pix0 + i) + word, &bits, sizeof bits);
    }
  }

  // tail64_rows with or without a pwl.
  template <int P, bool kBorder>
  static inline __attribute__((always_inline)) void tail64_any(const __m512i (&acc)[P][4],
                                                               const EpilogueWriter& ew,
                                                               const int32_t* k,
                                                               const int32_t* const* krow,
                                                               size_t pix0, int o0) {
    const ep::TailRun tr(ew);
    if (tr.pwl) {
      tail64_rows<P, true, kBorder>(tr, acc, ew, k, krow, pix0, o0);
    } else {
      tail64_rows<P, false, kBorder>(tr, acc, ew, k, krow, pix0, o0);
    }
  }

  // A full channel block of P pixels finished in registers (docs: FusedRunFn).
  template <int P, int V, EpilogueKind kKind, bool kClamp, bool kTail, class Rows>
  static inline __attribute__((always_inline)) void tile_finish(
      const Rows& rows, int taps, int wg, int xoff, const uint32_t* w, const EpilogueWriter& ew,
      const int32_t* k, const int32_t* const* krow, size_t pix0, int o0, const Slots<V>& slots) {
    __m512i acc[P][V];
    accumulate<P, V>(rows, taps, wg, xoff, w, acc);
    if constexpr (kTail) {
      // Tiles without a padded-window pixel (most) skip the per-pixel K row test.
      const bool border = has_border<P>(krow);
      if (V == 4 && ew.tail_q64) {
        if constexpr (V == 4) {
          if (border) {
            tail64_any<P, true>(acc, ew, k, krow, pix0, o0);
          } else {
            tail64_any<P, false>(acc, ew, k, krow, pix0, o0);
          }
        }
      } else if (border) {
        tail_rows<P, V, kClamp, true>(acc, ew, k, krow, pix0, o0, slots);
      } else {
        tail_rows<P, V, kClamp, false>(acc, ew, k, krow, pix0, o0, slots);
      }
      return;
    }
    if constexpr (kKind == EpilogueKind::kInt8) {  // the same with the int8 state in locals
      const ep::Int8Run ir(ew);
      if constexpr (V == 4) {
        // Tiles without a padded-window pixel (most) skip the per-pixel K row test.
        const bool border = has_border<P>(krow);
        if (ew.int8_q64_fits && (o0 & 63) == 0) {
          if (border) {
            int8_rows_q64<P, true>(ir, acc, ew, k, krow, pix0, o0);
          } else {
            int8_rows_q64<P, false>(ir, acc, ew, k, krow, pix0, o0);
          }
        } else if (border) {
          int8_rows<P, kClamp, true>(ir, acc, ew, k, krow, pix0, o0);
        } else {
          int8_rows<P, kClamp, false>(ir, acc, ew, k, krow, pix0, o0);
        }
        return;
      }
      const __m512i lo = _mm512_set1_epi32(ew.ep.lo), hi = _mm512_set1_epi32(ew.ep.hi);
#pragma GCC unroll 16
      for (int i = 0; i < P; ++i) {
        const int32_t* kr = krow[i];
        const __m512i kv = _mm512_set1_epi32(k[i]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) {
          const __m512i kk = kr ? ep::load16(kr + o0 + kLanes * v) : kv;
          ir.store(ep::d16<kClamp>(acc[i][v], kk, lo, hi), pix0 + i, o0 + kLanes * v);
        }
      }
      return;
    }
    for (int i = 0; i < P; ++i) {
      const int32_t* kr = krow[i];
      const __m512i kv = _mm512_set1_epi32(k[i]);
      ep::PackedRow packed(static_cast<uint32_t*>(ew.out) + (pix0 + i) * ew.row_elems);
      for (int v = 0; v < V; ++v) {
        const __m512i kk = kr ? ep::load16(kr + o0 + kLanes * v) : kv;
        ep::finish16<kKind, kClamp>(ew, acc[i][v], kk, pix0 + i, o0 + kLanes * v,
                                    slots.word[v], slots.bit[v], &packed);
      }
      if constexpr (kKind == EpilogueKind::kPacked) packed.flush();
    }
  }
};

#define BNNFLOW_BCONV_AVX512_KERNEL(name, maxp, v) \
  bconv_microkernel_of<Tile, maxp, v>(BNNFLOW_AVX512_ISA_NAME "_bconv_" name, bconv_epilogue())
const BconvMicrokernel k6x64 = BNNFLOW_BCONV_AVX512_KERNEL("6x64", 6, 4);
const BconvMicrokernel k8x32 = BNNFLOW_BCONV_AVX512_KERNEL("8x32", 8, 2);
const BconvMicrokernel k8x16 = BNNFLOW_BCONV_AVX512_KERNEL("8x16", 8, 1);
#undef BNNFLOW_BCONV_AVX512_KERNEL

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) {
  if (cout_g > 32) return &k6x64;
  return cout_g > 16 ? &k8x32 : &k8x16;
}

}  // namespace bnnflow::BNNFLOW_AVX512_NS
