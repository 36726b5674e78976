// AVX-512 binary convolution micro-kernels: output channels in the 16 32-bit lanes, activation
// words broadcast, vpxord + vpopcntd (VPOPCNTDQ) + vpaddd into 32-bit accumulators.
// Tiles: 6 pixels x 64 channels; 8 x 32 and 8 x 16 for narrow groups. Full channel blocks
// finish in registers (d = K − 2·sum, clamp, epilogue: epilogue_avx512.h); the rest go
// through the tile epilogue of bconv_epilogue_avx512_16.cc.
#include <cstdint>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_rows.h"
#include "kernels/bconv/epilogue_avx512.h"
#include "kernels/bconv/x86_avx512.h"

namespace bnnflow::BNNFLOW_AVX512_NS {
TileEpilogueFn bconv_epilogue();
namespace {

// acc[i][v] = popcount sums of pixel i, channels 16v..16v+15 of the block.
template <int P, int V, class Rows>
inline __attribute__((always_inline)) void accumulate(const Rows& rows, int taps, int wg,
                                                      int xoff, const uint32_t* w,
                                                      __m512i (&acc)[P][V]) {
  constexpr int CB = 16 * V;
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_si512();
  for (int t = 0; t < taps; ++t) {
    const uint32_t* xs[P];
    for (int i = 0; i < P; ++i) xs[i] = rows.pixel(t, i) + xoff;
    const uint32_t* wt = w + static_cast<size_t>(t) * wg * CB;
    for (int j = 0; j < wg; ++j) {
      __m512i wv[V];
      for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_si512(wt + j * CB + 16 * v);
      for (int i = 0; i < P; ++i) {
        const __m512i b = _mm512_set1_epi32(static_cast<int>(xs[i][j]));
        for (int v = 0; v < V; ++v) {
          acc[i][v] =
              _mm512_add_epi32(acc[i][v], _mm512_popcnt_epi32(_mm512_xor_si512(wv[v], b)));
        }
      }
    }
  }
}

template <int MAXP, int P, int V>
inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps, int wg,
                                                int xoff, const uint32_t* w, int32_t* out) {
  constexpr int CB = 16 * V;
  __m512i acc[P][V];
  accumulate<P, V>(TableRows<MAXP>{x}, taps, wg, xoff, w, acc);
  for (int i = 0; i < P; ++i) {
    for (int v = 0; v < V; ++v) _mm512_storeu_si512(out + i * CB + 16 * v, acc[i][v]);
  }
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
                        out + k * MAXP * 16 * V);
  }
  const int k = ntiles - 1;
  run<MAXP, V>(x + static_cast<size_t>(k) * taps * MAXP, taps, wg, xoff, w, p_last,
               out + k * MAXP * 16 * V);
}

// A full channel block of P pixels finished in registers (docs: FusedRunFn).
template <int P, int V, EpilogueKind kKind, bool kClamp, class Rows>
inline __attribute__((always_inline)) void tile_finish(
    const Rows& rows, int taps, int wg, int xoff, const uint32_t* w, const EpilogueWriter& ew,
    const int32_t* k, const int32_t* const* krow, size_t pix0, int o0, const int* word,
    const int* bit) {
  __m512i acc[P][V];
  accumulate<P, V>(rows, taps, wg, xoff, w, acc);
  for (int i = 0; i < P; ++i) {
    const int32_t* kr = krow[i];
    const __m512i kv = _mm512_set1_epi32(k[i]);
    ep::PackedRow packed(static_cast<uint32_t*>(ew.out) + (pix0 + i) * ew.row_elems);
    for (int v = 0; v < V; ++v) {
      const __m512i kk = kr ? ep::load16(kr + o0 + 16 * v) : kv;
      ep::finish16<kKind, kClamp>(ew, acc[i][v], kk, pix0 + i, o0 + 16 * v, word[v], bit[v],
                                  &packed);
    }
    if constexpr (kKind == EpilogueKind::kPacked) packed.flush();
  }
}

// The last tile of a group when it is partial (never direct).
template <int MAXP, int V, EpilogueKind kKind, bool kClamp, int P = MAXP - 1>
void last_tile_finish(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
                      int p, const EpilogueWriter& ew, const int32_t* k,
                      const int32_t* const* krow, size_t pix0, int o0, const int* word,
                      const int* bit) {
  if (p == P) {
    tile_finish<P, V, kKind, kClamp>(TableRows<MAXP>{x}, taps, wg, xoff, w, ew, k, krow,
                                         pix0, o0, word, bit);
  } else if constexpr (P > 1) {
    last_tile_finish<MAXP, V, kKind, kClamp, P - 1>(x, taps, wg, xoff, w, p, ew, k, krow,
                                                        pix0, o0, word, bit);
  }
}

template <int MAXP, int V, EpilogueKind kKind, bool kClamp>
void run_many_finish_impl(const TileRows& rows, int taps, int wg, int xoff, const uint32_t* w,
                          int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                          const int32_t* const* krow, const size_t* pix0, int o0) {
  int word[V] = {}, bit[V] = {};
  if constexpr (kKind == EpilogueKind::kPacked) {
    for (int v = 0; v < V; ++v) ep::packed_slot(ew, o0 + 16 * v, &word[v], &bit[v]);
  }
  const int nfull = p_last == MAXP ? ntiles : ntiles - 1;
  for (int t = 0; t < nfull; ++t) {
    with_tile_rows<MAXP>(rows, taps, t, [&](const auto& tr) {
      tile_finish<MAXP, V, kKind, kClamp>(tr, taps, wg, xoff, w, ew, k + t * MAXP,
                                          krow + t * MAXP, pix0[t], o0, word, bit);
    });
  }
  if (nfull == ntiles) return;
  const int t = ntiles - 1;
  last_tile_finish<MAXP, V, kKind, kClamp>(rows.x + static_cast<size_t>(t) * taps * MAXP,
                                               taps, wg, xoff, w, p_last, ew, k + t * MAXP,
                                               krow + t * MAXP, pix0[t], o0, word, bit);
}

template <int MAXP, int V, EpilogueKind kKind>
void run_many_finish_kind(const TileRows& x, int taps, int wg, int xoff,
                          const uint32_t* w, int ntiles, int p_last, const EpilogueWriter& ew,
                          const int32_t* k, const int32_t* const* krow, const size_t* pix0,
                          int o0) {
  if (ew.clamp) {
    run_many_finish_impl<MAXP, V, kKind, true>(x, taps, wg, xoff, w, ntiles, p_last, ew, k, krow,
                                             pix0, o0);
  } else {
    run_many_finish_impl<MAXP, V, kKind, false>(x, taps, wg, xoff, w, ntiles, p_last, ew, k, krow,
                                              pix0, o0);
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

const BconvMicrokernel k6x64{BNNFLOW_AVX512_ISA_NAME "_bconv_6x64", Isa::kAvx512, 6, 64,
                             &run<6, 4>, false, bconv_epilogue(), &run_many<6, 4>,
                             &run_many_finish<6, 4>};
const BconvMicrokernel k8x32{BNNFLOW_AVX512_ISA_NAME "_bconv_8x32", Isa::kAvx512, 8, 32,
                             &run<8, 2>, false, bconv_epilogue(), &run_many<8, 2>,
                             &run_many_finish<8, 2>};
const BconvMicrokernel k8x16{BNNFLOW_AVX512_ISA_NAME "_bconv_8x16", Isa::kAvx512, 8, 16,
                             &run<8, 1>, false, bconv_epilogue(), &run_many<8, 1>,
                             &run_many_finish<8, 1>};

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) {
  if (cout_g > 32) return &k6x64;
  return cout_g > 16 ? &k8x32 : &k8x16;
}

}  // namespace bnnflow::BNNFLOW_AVX512_NS
