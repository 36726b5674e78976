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

#if !defined(BNNFLOW_SIMDE_AVX512)
// Three taps of a window row at once through a full adder (Harley–Seal's carry-save step), for
// 3-wide windows of 2 words a tap or a multiple of 4, one group. With x_k = a_k ^
// w_k (activation word a_k of window column k, weight word w_k of the channel), k = 0, 1, 2:
//   popcount(x0) + popcount(x1) + popcount(x2) = popcount(ones) + 2·popcount(maj),
//   ones = x0 ^ x1 ^ x2 = h ^ (w0 ^ w1 ^ w2), h = a0 ^ a1 ^ a2 read from the input's row
//          triples (RowTriplesFn: made once per call, so no scalar work per tile),
//   maj  = majority(x0, x1, x2) = x0 where x0 == x1, else ~ones (vpternlogd 0xd4),
// and both counts go into the one int32 accumulator with weights 1 and 2 by vpopcntb +
// vpdpbusd against bytes (1,1,1,1) and (2,2,2,2): 8 vector ops per three words and 16
// channels instead of 9. The whole tap loop of a 6-pixel tile is one asm, the accumulators
// in zmm8-zmm31, stored to the tile's array at the end (GCC, with intrinsics, per-pixel asm
// blocks or asm operands per 32 channels, kept the 24 accumulators on the stack across the
// window rows and loaded / stored them each time; branch bc64c-fa-exp had the same).
alignas(8) constexpr uint32_t kBytes12[2] = {0x01010101u, 0x02020202u};

// One pixel (origin register P), word J of its window row, into accumulator A: the triple at
// 4J(P, r3), a0 at 4J(P), a1 at 4J + 4·WG(P) (the next pixel's word: WG words a tap); zmm0 /
// zmm1 the first two taps' weights, zmm2 the xor of all three.
#define BNNFLOW_FA_PX(J, WG, P, A)                                   \
  "vpxord 4*" #J "(%%" P ",%[r3])%{1to16%}, %%zmm2, %%zmm3\n\t"     \
  "vpxord 4*" #J "(%%" P ")%{1to16%}, %%zmm0, %%zmm4\n\t"           \
  "vpxord 4*" #J "+4*" #WG "(%%" P ")%{1to16%}, %%zmm1, %%zmm5\n\t" \
  "vpternlogd $0xd4, %%zmm3, %%zmm5, %%zmm4\n\t"                    \
  "vpopcntb %%zmm3, %%zmm3\n\t"                                     \
  "vpopcntb %%zmm4, %%zmm4\n\t"                                     \
  "vpdpbusd %[c]%{1to16%}, %%zmm3, %%zmm" A "\n\t"                  \
  "vpdpbusd 4+%[c]%{1to16%}, %%zmm4, %%zmm" A "\n\t"
// Word J, channels 16V.. of the three taps (weights [tap][word][64 channels], 256 bytes a
// word) for the 6 pixels; pixel i, vector V accumulates in zmm(8 + 4i + V).
#define BNNFLOW_FA_JV(J, V, WG, A0, A1, A2, A3, A4, A5)                           \
  "vmovdqu64 " #J "*256+" #V "*64(%[w]), %%zmm0\n\t"                             \
  "vmovdqu64 (" #WG "+" #J ")*256+" #V "*64(%[w]), %%zmm1\n\t"                   \
  "vmovdqa64 %%zmm0, %%zmm2\n\t"                                                 \
  "vpternlogd $0x96, (2*" #WG "+" #J ")*256+" #V "*64(%[w]), %%zmm1, %%zmm2\n\t" \
  BNNFLOW_FA_PX(J, WG, "rax", A0) BNNFLOW_FA_PX(J, WG, "rcx", A1)                \
  BNNFLOW_FA_PX(J, WG, "rdx", A2) BNNFLOW_FA_PX(J, WG, "rsi", A3)                \
  BNNFLOW_FA_PX(J, WG, "rdi", A4) BNNFLOW_FA_PX(J, WG, "r8", A5)
#define BNNFLOW_FA_V2(V, A0, A1, A2, A3, A4, A5) \
  BNNFLOW_FA_JV(0, V, 2, A0, A1, A2, A3, A4, A5) BNNFLOW_FA_JV(1, V, 2, A0, A1, A2, A3, A4, A5)
#define BNNFLOW_FA_V4(V, A0, A1, A2, A3, A4, A5)                                              \
  BNNFLOW_FA_JV(0, V, 4, A0, A1, A2, A3, A4, A5) BNNFLOW_FA_JV(1, V, 4, A0, A1, A2, A3, A4, A5) \
  BNNFLOW_FA_JV(2, V, 4, A0, A1, A2, A3, A4, A5) BNNFLOW_FA_JV(3, V, 4, A0, A1, A2, A3, A4, A5)
#define BNNFLOW_FA_ALL(VW)                  \
  VW(0, "8", "12", "16", "20", "24", "28")  \
  VW(1, "9", "13", "17", "21", "25", "29")  \
  VW(2, "10", "14", "18", "22", "26", "30") \
  VW(3, "11", "15", "19", "23", "27", "31")
#define BNNFLOW_FA_ORIGIN(I, P) \
  "mov 8*" #I "(%[b]), %%" P "\n\tlea (%%" P ",%%r9,4), %%" P "\n\t"
#define BNNFLOW_FA_ZERO4(A, B, C, D)              \
  "vpxord %%zmm" A ", %%zmm" A ", %%zmm" A "\n\t" \
  "vpxord %%zmm" B ", %%zmm" B ", %%zmm" B "\n\t" \
  "vpxord %%zmm" C ", %%zmm" C ", %%zmm" C "\n\t" \
  "vpxord %%zmm" D ", %%zmm" D ", %%zmm" D "\n\t"
#define BNNFLOW_FA_STORE4(A, B, C, D, AT)           \
  "vmovdqu64 %%zmm" A ", " AT "*256(%[acc])\n\t"    \
  "vmovdqu64 %%zmm" B ", " AT "*256+64(%[acc])\n\t" \
  "vmovdqu64 %%zmm" C ", " AT "*256+128(%[acc])\n\t" \
  "vmovdqu64 %%zmm" D ", " AT "*256+192(%[acc])\n\t"
// The tile's asm: zero the accumulators; per window row (tap_off[3·ky] at [to]) the 6 origins,
// then BODY, the weights advanced by WSTEP bytes; the accumulators stored to acc.
#define BNNFLOW_FA_ASM(BODY, WSTEP)                                                            \
  asm volatile(                                                                                \
      BNNFLOW_FA_ZERO4("8", "9", "10", "11") BNNFLOW_FA_ZERO4("12", "13", "14", "15")          \
      BNNFLOW_FA_ZERO4("16", "17", "18", "19") BNNFLOW_FA_ZERO4("20", "21", "22", "23")        \
      BNNFLOW_FA_ZERO4("24", "25", "26", "27") BNNFLOW_FA_ZERO4("28", "29", "30", "31")        \
      "1:\n\t"                                                                                \
      "mov (%[to]), %%r9\n\t"                                                                 \
      BNNFLOW_FA_ORIGIN(0, "rax") BNNFLOW_FA_ORIGIN(1, "rcx") BNNFLOW_FA_ORIGIN(2, "rdx")      \
      BNNFLOW_FA_ORIGIN(3, "rsi") BNNFLOW_FA_ORIGIN(4, "rdi") BNNFLOW_FA_ORIGIN(5, "r8")       \
      BODY                                                                                     \
      "add $24, %[to]\n\t"                                                                    \
      "add $" WSTEP ", %[w]\n\t"                                                              \
      "dec %[n]\n\t"                                                                          \
      "jnz 1b\n\t"                                                                            \
      BNNFLOW_FA_STORE4("8", "9", "10", "11", "0") BNNFLOW_FA_STORE4("12", "13", "14", "15", "1") \
      BNNFLOW_FA_STORE4("16", "17", "18", "19", "2")                                          \
      BNNFLOW_FA_STORE4("20", "21", "22", "23", "3")                                          \
      BNNFLOW_FA_STORE4("24", "25", "26", "27", "4")                                          \
      BNNFLOW_FA_STORE4("28", "29", "30", "31", "5")                                          \
      : [to] "+r"(to), [w] "+r"(w), [n] "+r"(n), "=m"(acc)                                     \
      : [b] "r"(rows.base), [r3] "r"(rows.row3), [c] "m"(kBytes12), [acc] "r"(&acc[0][0])      \
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",  \
        "xmm5", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", \
        "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",       \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "cc", "memory")

// Wider taps (a multiple of 4 words, 8 or more: 225+ input channels), the word count at run
// time: per window row an inner loop over groups of 4 words; r11 = 4·wg (bytes from a pixel's
// word to the next pixel's, a1), r12 = 256·wg (bytes from a tap's weights to the next tap's).
#define BNNFLOW_FA_PXG(J, P, A)                                   \
  "vpxord 4*" #J "(%%" P ",%[r3])%{1to16%}, %%zmm2, %%zmm3\n\t"  \
  "vpxord 4*" #J "(%%" P ")%{1to16%}, %%zmm0, %%zmm4\n\t"        \
  "vpxord 4*" #J "(%%" P ",%%r11)%{1to16%}, %%zmm1, %%zmm5\n\t"  \
  "vpternlogd $0xd4, %%zmm3, %%zmm5, %%zmm4\n\t"                 \
  "vpopcntb %%zmm3, %%zmm3\n\t"                                  \
  "vpopcntb %%zmm4, %%zmm4\n\t"                                  \
  "vpdpbusd %[c]%{1to16%}, %%zmm3, %%zmm" A "\n\t"               \
  "vpdpbusd 4+%[c]%{1to16%}, %%zmm4, %%zmm" A "\n\t"
#define BNNFLOW_FA_JVG(J, V, A0, A1, A2, A3, A4, A5)                                  \
  "vmovdqu64 " #J "*256+" #V "*64(%[w]), %%zmm0\n\t"                                 \
  "vmovdqu64 " #J "*256+" #V "*64(%[w],%%r12), %%zmm1\n\t"                           \
  "vmovdqa64 %%zmm0, %%zmm2\n\t"                                                     \
  "vpternlogd $0x96, " #J "*256+" #V "*64(%[w],%%r12,2), %%zmm1, %%zmm2\n\t"         \
  BNNFLOW_FA_PXG(J, "rax", A0) BNNFLOW_FA_PXG(J, "rcx", A1)                          \
  BNNFLOW_FA_PXG(J, "rdx", A2) BNNFLOW_FA_PXG(J, "rsi", A3)                          \
  BNNFLOW_FA_PXG(J, "rdi", A4) BNNFLOW_FA_PXG(J, "r8", A5)
#define BNNFLOW_FA_VG(V, A0, A1, A2, A3, A4, A5)                                        \
  BNNFLOW_FA_JVG(0, V, A0, A1, A2, A3, A4, A5) BNNFLOW_FA_JVG(1, V, A0, A1, A2, A3, A4, A5) \
  BNNFLOW_FA_JVG(2, V, A0, A1, A2, A3, A4, A5) BNNFLOW_FA_JVG(3, V, A0, A1, A2, A3, A4, A5)

// accumulate_rows3 for wg a multiple of 4, wg >= 8. The asm's general registers are all
// taken, so the window-row count and wg travel in acc's first 16 bytes (read, and the count
// decremented, there; the accumulators are stored over them at the end): a stack operand
// would need a base register of its own where AddressSanitizer keeps locals in its fake stack
// and the frame pointer takes rbp ("impossible constraints" in the CI's ASan build).
inline __attribute__((always_inline)) void accumulate_rows3_wide(const DirectRows& rows,
                                                                 int taps, int wg,
                                                                 const uint32_t* w,
                                                                 __m512i (&acc)[6][4]) {
  const size_t* to = rows.tap_off;
  acc[0][0] = _mm512_set_epi64(0, 0, 0, 0, 0, 0, static_cast<long long>(wg),
                               static_cast<long long>(taps / 3));
  asm volatile(
      BNNFLOW_FA_ZERO4("8", "9", "10", "11") BNNFLOW_FA_ZERO4("12", "13", "14", "15")
      BNNFLOW_FA_ZERO4("16", "17", "18", "19") BNNFLOW_FA_ZERO4("20", "21", "22", "23")
      BNNFLOW_FA_ZERO4("24", "25", "26", "27") BNNFLOW_FA_ZERO4("28", "29", "30", "31")
      "mov 8(%[acc]), %%r11\n\t"
      "mov %%r11, %%r12\n\t"
      "shl $8, %%r12\n\t"
      "shl $2, %%r11\n\t"
      "1:\n\t"
      "mov (%[to]), %%r9\n\t"
      BNNFLOW_FA_ORIGIN(0, "rax") BNNFLOW_FA_ORIGIN(1, "rcx") BNNFLOW_FA_ORIGIN(2, "rdx")
      BNNFLOW_FA_ORIGIN(3, "rsi") BNNFLOW_FA_ORIGIN(4, "rdi") BNNFLOW_FA_ORIGIN(5, "r8")
      "mov %%r11, %%r9\n\t"
      "shr $4, %%r9\n\t"
      "2:\n\t"
      BNNFLOW_FA_ALL(BNNFLOW_FA_VG)
      "add $16, %%rax\n\tadd $16, %%rcx\n\tadd $16, %%rdx\n\t"
      "add $16, %%rsi\n\tadd $16, %%rdi\n\tadd $16, %%r8\n\t"
      "add $1024, %[w]\n\t"
      "dec %%r9\n\t"
      "jnz 2b\n\t"
      "lea (%[w],%%r12,2), %[w]\n\t"
      "add $24, %[to]\n\t"
      "decq (%[acc])\n\t"
      "jnz 1b\n\t"
      BNNFLOW_FA_STORE4("8", "9", "10", "11", "0") BNNFLOW_FA_STORE4("12", "13", "14", "15", "1")
      BNNFLOW_FA_STORE4("16", "17", "18", "19", "2")
      BNNFLOW_FA_STORE4("20", "21", "22", "23", "3")
      BNNFLOW_FA_STORE4("24", "25", "26", "27", "4")
      BNNFLOW_FA_STORE4("28", "29", "30", "31", "5")
      : [to] "+r"(to), [w] "+r"(w)
      : [b] "r"(rows.base), [r3] "r"(rows.row3), [c] "m"(kBytes12), [acc] "r"(&acc[0][0])
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r11", "r12", "xmm0", "xmm1", "xmm2",
        "xmm3", "xmm4", "xmm5", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
        "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
        "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "cc", "memory");
}
#undef BNNFLOW_FA_PXG
#undef BNNFLOW_FA_JVG
#undef BNNFLOW_FA_VG

// accumulate of a full 6-pixel tile for 3-wide windows of WG (2 or 4) words a tap (taps =
// 3·kh, tap_off[1] = WG, xoff = 0: one group) from the row triples at rows.row3.
template <int WG>
inline __attribute__((always_inline)) void accumulate_rows3(const DirectRows& rows, int taps,
                                                            const uint32_t* w,
                                                            __m512i (&acc)[6][4]) {
  const size_t* to = rows.tap_off;
  size_t n = static_cast<size_t>(taps / 3);
  if constexpr (WG == 2) {
    BNNFLOW_FA_ASM(BNNFLOW_FA_ALL(BNNFLOW_FA_V2), "1536");
  } else {
    static_assert(WG == 4);
    BNNFLOW_FA_ASM(BNNFLOW_FA_ALL(BNNFLOW_FA_V4), "3072");
  }
}
#undef BNNFLOW_FA_PX
#undef BNNFLOW_FA_JV
#undef BNNFLOW_FA_V2
#undef BNNFLOW_FA_V4
#undef BNNFLOW_FA_ALL
#undef BNNFLOW_FA_ORIGIN
#undef BNNFLOW_FA_ZERO4
#undef BNNFLOW_FA_STORE4
#undef BNNFLOW_FA_ASM

// RowTriplesFn.
void row_triples(const uint32_t* x, size_t n, size_t step, uint32_t* h) {
  size_t k = 0;
  for (; k + kVecLanes <= n; k += kVecLanes) {
    const __m512i a = _mm512_loadu_si512(x + k), b = _mm512_loadu_si512(x + k + step);
    const __m512i c = _mm512_loadu_si512(x + k + 2 * step);
    _mm512_storeu_si512(h + k, _mm512_ternarylogic_epi32(a, b, c, 0x96));
  }
  for (; k < n; ++k) h[k] = x[k] ^ x[k + step] ^ x[k + 2 * step];
}
#endif

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
#if !defined(BNNFLOW_SIMDE_AVX512)
    if (P == 6 && V == 4 && rows.row3 != 0 && xoff == 0 && taps % 3 == 0 &&
        (wg == 2 || wg % 4 == 0)) {
      if constexpr (P == 6 && V == 4) {
        if (wg == 2) {
          accumulate_rows3<2>(rows, taps, w, acc);
        } else if (wg == 4) {
          accumulate_rows3<4>(rows, taps, w, acc);
        } else {
          accumulate_rows3_wide(rows, taps, wg, w, acc);
        }
      }
    } else {
      accumulate<P, V>(rows, taps, wg, xoff, w, acc);
    }
#else
    accumulate<P, V>(rows, taps, wg, xoff, w, acc);
#endif
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
BconvMicrokernel with_row_triples(BconvMicrokernel mk) {
#if !defined(BNNFLOW_SIMDE_AVX512)
  mk.row_triples = &row_triples;
#endif
  return mk;
}
const BconvMicrokernel k6x64 = with_row_triples(BNNFLOW_BCONV_AVX512_KERNEL("6x64", 6, 4));
const BconvMicrokernel k8x32 = BNNFLOW_BCONV_AVX512_KERNEL("8x32", 8, 2);
const BconvMicrokernel k8x16 = BNNFLOW_BCONV_AVX512_KERNEL("8x16", 8, 1);
#undef BNNFLOW_BCONV_AVX512_KERNEL

}  // namespace

const BconvMicrokernel* bconv_microkernel(int cout_g) {
  if (cout_g > 32) return &k6x64;
  return cout_g > 16 ? &k8x32 : &k8x16;
}

}  // namespace bnnflow::BNNFLOW_AVX512_NS
