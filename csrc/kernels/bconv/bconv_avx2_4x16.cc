// AVX2 binary convolution micro-kernels (nibble-split). Weights and activations arrive
// nibble-split (lo = v & 0x0f0f0f0f, hi = (v >> 4) & 0x0f0f0f0f), so a 256-bit xor-popcount
// is 2 vpxor + 2 vpshufb + 2 vpaddb (6 ops instead of the 8 of the plain nibble table).
// Output channels in the 8 32-bit lanes; activation nibble words broadcast from memory, the
// weight vectors memory operands of each pixel's vpxor (no spilled counters, see word_step);
// 8-bit counters (<= 8 per word) widened into 32-bit sums every 31 words (8·31 < 256: exact).
// The plain nibble table (8 ops) and Harley-Seal (no register tile fits its state) measured
// slower on Zen 3; see the ceiling kernels in ceiling_avx2_methods.cc.
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/bconv_tile_driver.h"
#include "kernels/bconv/epilogue_avx2.h"

namespace bnnflow::avx2 {
TileEpilogueFn bconv_epilogue();
namespace {

constexpr int kVecLanes = 8;  // int32 lanes of a __m256i

// Word j of every pixel's tap: acc[i][v] += popcount(x_i[j] xor w[j]), per byte. The weight
// vectors are read by each pixel's vpxor from memory (L1) rather than held in 4 registers:
// the empty asm hides that the pointer is the same for every pixel, which keeps GCC from
// loading them once into registers and then running out of the 16 ymm registers (8 counters,
// the table, 2 activation broadcasts, 2 temporaries fit without spills).
template <int P, int V, bool kAsmAdd = false, bool kAsmXor = false>
inline __attribute__((always_inline)) void word_step(const uint32_t* const (&xs)[P],
                                                     const uint32_t* wt, int j, __m256i lut,
                                                     __m256i (&acc)[P][V]) {
  constexpr int CB = kVecLanes * V;
  if constexpr (kAsmXor) {
    static_assert(kAsmAdd, "the asm xor goes with the asm add");
    // The weights as asm memory operands of each pixel's vpxor: GCC cannot load them once
    // into registers (the asm reads memory; the pixels' broadcasts differ, so no two asms
    // are the same), and the pointer needs no per-pixel barrier copy.
    const uint32_t* wp = wt + 2 * j * CB;
    for (int i = 0; i < P; ++i) {
      const __m256i bl = _mm256_set1_epi32(static_cast<int>(xs[i][2 * j]));
      const __m256i bh = _mm256_set1_epi32(static_cast<int>(xs[i][2 * j + 1]));
      for (int v = 0; v < V; ++v) {
        __m256i xl, xh;
        asm("vpxor %1, %2, %0"
            : "=x"(xl)
            : "m"(*reinterpret_cast<const __m256i*>(wp + kVecLanes * v)), "x"(bl));
        asm("vpxor %1, %2, %0"
            : "=x"(xh)
            : "m"(*reinterpret_cast<const __m256i*>(wp + CB + kVecLanes * v)), "x"(bh));
        const __m256i lo = _mm256_shuffle_epi8(lut, xl);
        const __m256i hi = _mm256_shuffle_epi8(lut, xh);
        asm("vpaddb %1, %0, %0" : "+x"(acc[i][v]) : "x"(_mm256_add_epi8(lo, hi)));
      }
    }
    return;
  }
  for (int i = 0; i < P; ++i) {
    const uint32_t* wp = wt + 2 * j * CB;
    asm volatile("" : "+r"(wp));
    const __m256i bl = _mm256_set1_epi32(static_cast<int>(xs[i][2 * j]));
    const __m256i bh = _mm256_set1_epi32(static_cast<int>(xs[i][2 * j + 1]));
    for (int v = 0; v < V; ++v) {
      const __m256i wl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + kVecLanes * v));
      const __m256i wh =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + CB + kVecLanes * v));
      const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_xor_si256(wl, bl));
      const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_xor_si256(wh, bh));
      if constexpr (kAsmAdd) {
        // The counter's add as an asm with the counter tied in place ("+x"): GCC can neither
        // regroup the adds across the unrolled words nor give the sum a new register (the
        // empty-asm pin after an intrinsic add left 5-6 vmovdqa copies a 2-word tap).
        asm("vpaddb %1, %0, %0" : "+x"(acc[i][v]) : "x"(_mm256_add_epi8(lo, hi)));
      } else {
        acc[i][v] = _mm256_add_epi8(acc[i][v], _mm256_add_epi8(lo, hi));
      }
    }
  }
}

// sum += the 8-bit counters widened to 32 bits, times the bytes of `ones8` (1 or 2).
template <int P, int V>
inline __attribute__((always_inline)) void widen_into(const __m256i (&acc)[P][V], __m256i ones8,
                                                      __m256i ones16, __m256i (&sum)[P][V]) {
  for (int i = 0; i < P; ++i) {
    for (int v = 0; v < V; ++v) {
      const __m256i s16 = _mm256_maddubs_epi16(acc[i][v], ones8);
      sum[i][v] = _mm256_add_epi32(sum[i][v], _mm256_madd_epi16(s16, ones16));
    }
  }
}

// One widening round of accumulate_fixed: taps t0..t1 − 1 (in the order of kRev) of exactly
// WG words, the word loop unrolled at compile time. The counters' adds are asm (word_step's
// kAsmAdd): with intrinsic adds GCC regroups them across the unrolled words (docs/performance.md,
// "AVX2 tiles of 2 x 32": the 2-word taps unrolled that way ran 15 % slower), and an empty asm
// pin after them left 5-6 register copies a tap.
template <int WG, int P, int V, bool kRev, class Rows>
inline __attribute__((always_inline)) void fixed_round(const Rows& rows, int taps, int t0, int t1,
                                                       int xoff, const uint32_t* w, __m256i lut,
                                                       __m256i ones8, __m256i ones16,
                                                       __m256i (&sum)[P][V]) {
  constexpr int CB = kVecLanes * V;
  __m256i acc[P][V];
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_si256();
  for (int t = t0; t < t1; ++t) {
    const int tt = kRev ? taps - 1 - t : t;
    const uint32_t* xs[P];
    for (int i = 0; i < P; ++i) xs[i] = rows.pixel(tt, i) + xoff;
    const uint32_t* wt = w + static_cast<size_t>(tt) * WG * 2 * CB;
    // The asm xor for 4- and 8-word taps only: on 2-word taps (64 channels) it cut the
    // instructions 4.5 % but ran 0.3-0.7 % slower (docs/performance.md, "AVX2 tiles of 2 x 32").
    for (int j = 0; j < WG; ++j) word_step<P, V, true, (WG >= 4)>(xs, wt, j, lut, acc);
  }
  widen_into<P, V>(acc, ones8, ones16, sum);
}

// accumulate_taps for taps of exactly WG (<= 15) words: 31 / WG whole taps a widening round,
// a round without the round loop when they all fit (3x3 windows of 2-word taps: 33-64 channels).
template <int WG, int P, int V, bool kRev, class Rows>
inline __attribute__((always_inline)) void accumulate_fixed(const Rows& rows, int taps,
                                                            int xoff, const uint32_t* w,
                                                            __m256i lut, __m256i ones8,
                                                            __m256i ones16,
                                                            __m256i (&sum)[P][V]) {
  constexpr int kRound = 31 / WG;  // taps per widening round
  if (taps <= kRound) {
    fixed_round<WG, P, V, kRev>(rows, taps, 0, taps, xoff, w, lut, ones8, ones16, sum);
    return;
  }
  for (int t0 = 0; t0 < taps; t0 += kRound) {
    const int t1 = t0 + kRound < taps ? t0 + kRound : taps;
    fixed_round<WG, P, V, kRev>(rows, taps, t0, t1, xoff, w, lut, ones8, ones16, sum);
  }
}

// sum[i][v] += popcount sums of pixel i, channels 8v..8v+7 of the block. kRev: the taps in
// reverse order (tap taps − 1 first; the sums are the same integers). PairTile runs its second
// pair of pixels backwards, so that a block's weights larger than L1 (512 input channels: 9 taps
// x 4 KB per 32-channel block = 36 KB against Zen 4's 32 KB L1D) are read in the order opposite
// to the previous pass and mostly still in L1, instead of cycling through it and missing on
// every line (docs/performance.md, "AVX2 tiles of 2 x 32": the 512-channel layers' weights
// and L1).
template <int P, int V, bool kRev, class Rows>
inline __attribute__((always_inline)) void accumulate_taps(const Rows& rows, int taps, int wg,
                                                           int xoff, const uint32_t* w,
                                                           __m256i lut, __m256i ones8,
                                                           __m256i ones16,
                                                           __m256i (&sum)[P][V]) {
  constexpr int CB = kVecLanes * V;
  // 64, 128 and 256 input channels a group (ResNet's layers): the word loop unrolled
  // (accumulate_fixed: 64->64 2.5 %, 128->128 0.5-1 %, 256->512 s2 1 % faster)
  if (wg == 2) return accumulate_fixed<2, P, V, kRev>(rows, taps, xoff, w, lut, ones8, ones16, sum);
  if (wg == 4) return accumulate_fixed<4, P, V, kRev>(rows, taps, xoff, w, lut, ones8, ones16, sum);
  if (wg == 8) return accumulate_fixed<8, P, V, kRev>(rows, taps, xoff, w, lut, ones8, ones16, sum);
  if (wg <= 15) {
    // Two or more whole taps per widening round (Cg <= 480): no word budget to track (the
    // general loop below spends about 6 instructions a tap on it: 3-5 % of the call on the
    // 64- to 256-channel layers, docs/performance.md, "Per-layer instruction counts").
    const int round = 31 / wg;
    for (int t0 = 0; t0 < taps; t0 += round) {
      const int t1 = t0 + round < taps ? t0 + round : taps;
      __m256i acc[P][V];
      for (int i = 0; i < P; ++i)
        for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_si256();
      for (int t = t0; t < t1; ++t) {
        const int tt = kRev ? taps - 1 - t : t;
        const uint32_t* xs[P];
        for (int i = 0; i < P; ++i) xs[i] = rows.pixel(tt, i) + xoff;
        const uint32_t* wt = w + static_cast<size_t>(tt) * wg * 2 * CB;
        for (int j = 0; j < wg; ++j) word_step<P, V>(xs, wt, j, lut, acc);
      }
      widen_into<P, V>(acc, ones8, ones16, sum);
    }
    return;
  }
  int t = 0, j = 0;
  while (t < taps) {
    __m256i acc[P][V];
    for (int i = 0; i < P; ++i)
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_si256();
    int budget = 31;
    while (t < taps && budget > 0) {
      const int jn = j + budget < wg ? j + budget : wg;
      budget -= jn - j;
      const int tt = kRev ? taps - 1 - t : t;
      const uint32_t* xs[P];
      for (int i = 0; i < P; ++i) xs[i] = rows.pixel(tt, i) + xoff;
      const uint32_t* wt = w + static_cast<size_t>(tt) * wg * 2 * CB;
      for (; j < jn; ++j) word_step<P, V>(xs, wt, j, lut, acc);
      if (j == wg) {
        j = 0;
        ++t;
      }
    }
    widen_into<P, V>(acc, ones8, ones16, sum);
  }
}

// sum[i][v] = kScale · the popcount sums of pixel i, channels 8v..8v+7 of the block. kScale 2
// (the fused epilogues' 2·S of d = K − 2·S) costs nothing: the widening's vpmaddubsw
// multiplies the 8-bit counters by kScale instead of 1 (pair sums <= 2·2·248 fit int16).
template <int P, int V, int kScale = 1, bool kRev = false, class Rows>
inline __attribute__((always_inline)) void accumulate(const Rows& rows, int taps, int wg,
                                                      int xoff, const uint32_t* w,
                                                      __m256i (&sum)[P][V]) {
  static_assert(kScale == 1 || kScale == 2, "sums or twice the sums");
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                       2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i ones8 = _mm256_set1_epi8(kScale);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int i = 0; i < P; ++i)
    for (int v = 0; v < V; ++v) sum[i][v] = _mm256_setzero_si256();
  accumulate_taps<P, V, kRev>(rows, taps, wg, xoff, w, lut, ones8, ones16, sum);
}

// The int8 epilogue of a tile finished in registers (sum = 2·S): its state in locals (the int8 stores may
// alias anything, so fields read through the writer would be reloaded after each of them), 16
// lanes a store. kBorder: some pixel has a K row (its window crosses the padding in mode
// 'zero'); without, no per-pixel test. Inlined into the 2x32 tile (64->64 2.5 % faster than
// out of line); out of line (int8_finish) for the 4x16 tile, whose 4 pixel pointers left no
// registers for its pointers and constants (measured slower on 256 channels).
template <int P, int V, bool kBorder>
inline __attribute__((always_inline)) void int8_rows(const __m256i (&sum)[P][V], const EpilogueWriter& ew,
                                           const int32_t* k, const int32_t* const* krow,
                                           size_t pix0, int o0) {
  static_assert(V % 2 == 0, "16 channels at a time");
  const int32_t* params = ew.int8_params;  // M, B + 2^(s−1) and s rows, `stride` apart
  const size_t stride = ew.int8_stride;
  int8_t* out = static_cast<int8_t*>(ew.out);
  const size_t row = ew.row_elems;
  const ep::Int8Bounds qb(ew);  // the clamp to [lo, hi] and q's to [−128, 127] in one
  for (int i = 0; i < P; ++i) {
    const int32_t* kr = kBorder ? krow[i] : nullptr;
    const __m256i kv = _mm256_set1_epi32(k[i]);
    for (int v = 0; v < V; v += 2) {
      __m256i val[2];
      for (int h = 0; h < 2; ++h) {
        const int o = o0 + kVecLanes * (v + h);
        const __m256i kk = kBorder && kr ? ep::load8(kr + o) : kv;
        const __m256i q = qb.q(_mm256_sub_epi32(kk, sum[i][v + h]));
        const int32_t* p = params + o;
        const __m256i mq = _mm256_add_epi32(_mm256_madd_epi16(q, ep::load8(p)),
                                            ep::load8(p + stride));
        val[h] = _mm256_srav_epi32(mq, ep::load8(p + 2 * stride));
      }
      // the signed-saturating packs of store_int8x16 saturate to [−128, 127]
      ep::store_int8x16(out + (pix0 + i) * row + o0 + kVecLanes * v, val[0], val[1]);
    }
  }
}

template <int P, int V, bool kBorder>
__attribute__((noinline)) void int8_finish(const __m256i (&sum)[P][V], const EpilogueWriter& ew,
                                           const int32_t* k, const int32_t* const* krow,
                                           size_t pix0, int o0) {
  int8_rows<P, V, kBorder>(sum, ew, k, krow, pix0, o0);
}

// The int8 epilogue in the tile (P <= 2) or out of line.
template <int P, int V, bool kBorder>
inline __attribute__((always_inline)) void int8_epilogue(const __m256i (&sum)[P][V],
                                                         const EpilogueWriter& ew,
                                                         const int32_t* k,
                                                         const int32_t* const* krow,
                                                         size_t pix0, int o0) {
  if constexpr (P <= 2) {
    int8_rows<P, V, kBorder>(sum, ew, k, krow, pix0, o0);
  } else {
    int8_finish<P, V, kBorder>(sum, ew, k, krow, pix0, o0);
  }
}

struct Tile {
  static constexpr Isa kIsa = Isa::kAvx2;
  static constexpr int kLanes = kVecLanes;
  static constexpr bool kSplitNibbles = true;

  template <int MAXP, int P, int V, bool kRev = false>
  static inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps,
                                                         int wg, int xoff, const uint32_t* w,
                                                         int32_t* out) {
    constexpr int CB = kLanes * V;
    __m256i sum[P][V];
    accumulate<P, V, 1, kRev>(TableRows<MAXP>{x}, taps, wg, xoff, w, sum);
    for (int i = 0; i < P; ++i) {
      for (int v = 0; v < V; ++v) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * CB + kLanes * v), sum[i][v]);
      }
    }
  }

  // Packed: the output word and bit of each 8-channel vector of the block.
  template <int V>
  struct Slots {
    int word[V], bit[V];
  };
  template <int V>
  static void packed_slots(const EpilogueWriter& ew, int o0, Slots<V>* s) {
    for (int v = 0; v < V; ++v) ep::packed_slot(ew, o0 + kLanes * v, &s->word[v], &s->bit[v]);
  }

  // A tile finished in registers: d = K − 2·S (the accumulation gives 2·S), clamp, epilogue
  // (docs: FusedRunFn).
  // (kRev: the taps in reverse order, accumulate_taps.)
  template <int P, int V, EpilogueKind kKind, bool kClamp, bool kTail, class Rows,
            bool kRev = false>
  static inline __attribute__((always_inline)) void tile_finish(
      const Rows& rows, int taps, int wg, int xoff, const uint32_t* w, const EpilogueWriter& ew,
      const int32_t* k, const int32_t* const* krow, size_t pix0, int o0, const Slots<V>& slots) {
    __m256i sum[P][V];
    accumulate<P, V, 2, kRev>(rows, taps, wg, xoff, w, sum);  // sum = 2·S
    const __m256i lo = _mm256_set1_epi32(ew.ep.lo), hi = _mm256_set1_epi32(ew.ep.hi);
    if constexpr (kTail) {
      static_assert(V % 2 == 0, "the tail stores 16 channels at a time");
      const ep::TailRun tr(ew);
      const ep::Int8Bounds qb(ew);  // the clamp to [lo, hi] and q's to [−128, 127] in one
      // Variants chosen once per tile: kBorder (some pixel has a K row: its window crosses the
      // padding in mode 'zero'; without, no per-pixel test), the pwl, the pack.
      const auto rows_of = [&](auto border_tag, auto pwl_tag, auto bits_tag)
                               __attribute__((always_inline)) {
        constexpr bool kBorder = decltype(border_tag)::value;
        constexpr bool kPwl = decltype(pwl_tag)::value;
        constexpr bool kBits = decltype(bits_tag)::value;
        for (int i = 0; i < P; ++i) {
          const int32_t* kr = kBorder ? krow[i] : nullptr;
          const __m256i kv = _mm256_set1_epi32(k[i]);
          uint32_t* row = kBits ? tr.bits_row(pix0 + i) : nullptr;
          for (int v = 0; v < V; v += 2) {
            __m256i q[2];
            for (int h = 0; h < 2; ++h) {
              const int o = o0 + kLanes * (v + h);
              const __m256i kk = kBorder && kr ? ep::load8(kr + o) : kv;
              q[h] = qb.q(_mm256_sub_epi32(kk, sum[i][v + h]));
            }
            const uint32_t bits =
                ep::tail16<kPwl, kBits>(tr, q[0], q[1], pix0 + i, o0 + kLanes * v);
            // Words and bits as packed_slot gives them; o is a multiple of 16 and the pack's
            // groups hold whole words (bconv2d's condition), so the 16 channels share one
            // word. OR-ed: bconv2d zeroes the pack's output once per call.
            if constexpr (kBits) row[slots.word[v]] |= bits << slots.bit[v];
          }
        }
      };
      const auto with_pack = [&](auto border_tag, auto pwl_tag) __attribute__((always_inline)) {
        if (tr.bits != nullptr) {
          rows_of(border_tag, pwl_tag, std::true_type{});
        } else {
          rows_of(border_tag, pwl_tag, std::false_type{});
        }
      };
      const auto with_pwl = [&](auto border_tag) __attribute__((always_inline)) {
        if (tr.pwl) {
          with_pack(border_tag, std::true_type{});
        } else {
          with_pack(border_tag, std::false_type{});
        }
      };
      if (has_border<P>(krow)) {
        with_pwl(std::true_type{});
      } else {
        with_pwl(std::false_type{});
      }
      return;
    }
    if constexpr (kKind == EpilogueKind::kInt8) {
      if (has_border<P>(krow)) {
        int8_epilogue<P, V, true>(sum, ew, k, krow, pix0, o0);
      } else {
        int8_epilogue<P, V, false>(sum, ew, k, krow, pix0, o0);
      }
      return;
    }
    for (int i = 0; i < P; ++i) {
      const int32_t* kr = krow[i];
      const __m256i kv = _mm256_set1_epi32(k[i]);
      uint32_t* row = static_cast<uint32_t*>(ew.out) + (pix0 + i) * ew.row_elems;
      int cur_word = -1;
      uint32_t cur_bits = 0;
      const auto add_bits = [&](int word, int bit, uint32_t bits) {
        if (word != cur_word) {
          if (cur_word >= 0) row[cur_word] |= cur_bits;
          cur_word = word;
          cur_bits = 0;
        }
        cur_bits |= bits << bit;
      };
      for (int v = 0; v < V; ++v) {
        const __m256i kk = kr ? ep::load8(kr + o0 + kLanes * v) : kv;
        __m256i d = _mm256_sub_epi32(kk, sum[i][v]);
        if constexpr (kClamp) d = _mm256_min_epi32(_mm256_max_epi32(d, lo), hi);
        if constexpr (kKind == EpilogueKind::kPacked) {
          if (slots.word[v] >= 0) {
            const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(
                _mm256_cmpgt_epi32(ep::load8(ew.ep.threshold + o0 + kLanes * v), d))));
            add_bits(slots.word[v], slots.bit[v], bits);
            continue;
          }
        }
        ep::store8<kKind>(ew, d, pix0 + i, o0 + kLanes * v, slots.word[v], slots.bit[v]);
      }
      if (cur_word >= 0) row[cur_word] |= cur_bits;
    }
  }
};

// The 2x32 tile run as pairs of pixels inside a tile of P = 4 for the driver: the same
// registers as 2x32, half the tiles to build and loop over (bconv.cc's run_tiles and the fused
// tile loop are per tile). The second pair reads the taps backwards (kRev): the passes over a
// block's weights alternate in direction, so one larger than L1 (512 channels) is read from
// L1 rather than L2 for all but its first pass.
struct PairTile : Tile {
  template <int MAXP, int P, int V>
  static inline __attribute__((always_inline)) void tile(const uint32_t* const* x, int taps,
                                                         int wg, int xoff, const uint32_t* w,
                                                         int32_t* out) {
    static_assert(MAXP <= 4, "two pairs at most");
    constexpr int P0 = P < 2 ? P : 2;
    Tile::tile<MAXP, P0, V>(x, taps, wg, xoff, w, out);
    if constexpr (P > 2) {
      Tile::tile<MAXP, P - 2, V, true>(x + 2, taps, wg, xoff, w, out + 2 * kLanes * V);
    }
  }

  template <int P, int V, EpilogueKind kKind, bool kClamp, bool kTail, class Rows>
  static inline __attribute__((always_inline)) void tile_finish(
      const Rows& rows, int taps, int wg, int xoff, const uint32_t* w, const EpilogueWriter& ew,
      const int32_t* k, const int32_t* const* krow, size_t pix0, int o0, const Slots<V>& slots) {
    static_assert(P <= 4, "two pairs at most");
    constexpr int P0 = P < 2 ? P : 2;
    Tile::tile_finish<P0, V, kKind, kClamp, kTail>(rows, taps, wg, xoff, w, ew, k, krow, pix0,
                                                   o0, slots);
    if constexpr (P > 2) {
      Tile::tile_finish<P - 2, V, kKind, kClamp, kTail, Rows, true>(
          Rows{rows.base + 2, rows.tap_off}, taps, wg, xoff, w, ew, k + 2, krow + 2, pix0 + 2,
          o0, slots);
    }
  }
};

// Tile choice (docs/performance.md, "AVX2 tiles of 2 x 32"): 2 pixels x 32 channels for
// groups of a multiple of 32 output channels — per word step 4 activation broadcasts and 16
// weight loads for 8 nibble pairs (4x16: 8 + 16), which on Zen 4 ran the 64- to 256-channel
// layers 7-10 % faster than 4x16 (3x32 spills, 1x64 was no faster); 4 x 16 for other groups
// of more than 8 (whole 16-channel blocks keep the fused epilogue and the residual tail in
// registers for 48, 80, ... channels); 8 x 8 for groups of <= 8.
const BconvMicrokernel k2x32 =
    bconv_microkernel_of<PairTile, 4, 4>("bconv_avx2_2x32", bconv_epilogue());
const BconvMicrokernel k4x16 =
    bconv_microkernel_of<Tile, 4, 2>("bconv_avx2_4x16", bconv_epilogue());
const BconvMicrokernel k8x8 =
    bconv_microkernel_of<Tile, 8, 1, /*kFused=*/false>("bconv_avx2_8x8", bconv_epilogue());

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) {
  if (cout_g % 32 == 0) return &k2x32;
  return cout_g > 8 ? &k4x16 : &k8x8;
}

}  // namespace bnnflow::avx2
