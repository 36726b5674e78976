// The AVX2 int8 stem against the rate its instruction mix allows (docs/glue-kernels.md, "AVX2
// stem: the vpmaddwd + vpaddd bound"). Best of REPS calls, one thread, x86-64 with AVX2 only:
//   madd only     6 independent vpmaddwd chains: the rate of `int8_mac_peak` (16 MACs each)
//   madd+add      the 3x32 tile's steady state in asm: per pair step 2 weight loads, 3 pair
//                 broadcasts, 12 vpmaddwd (2 of the 4 weight vectors read from L1) and 12 vpaddd
//                 into 12 accumulators; AVX2 has no int16 multiply-accumulate, so this, not
//                 the madd-only peak, is what an exact vpmaddwd stem can reach
//   madd+add/2    12 vpmaddwd and 6 vpaddd that add 6 of the products into accumulators: with
//                 one vpaddd per two vpmaddwd the madd-only rate again (Zen 4: the adds that
//                 wait on a vpmaddwd take the multiply pipes' slots, whatever the order)
//   stem 7x7      glue::avx2::conv2d_int8_packed, ResNet's stem 224x224x3 uint8 -> 112x112x64
//                 int32, 7x7 s2 pad 3, prepared weights (118.0 M MACs; the Winograd path, 99
//                 vpmaddwd per 2 pixels and 8 channels instead of 148: docs/performance.md,
//                 "The AVX2 stem by Winograd")
//   stem 3x3      QuickNet's stem, 3x3 s2 pad 1 -> 112x112x16 (5.4 M MACs)
//   ip 3x16, 4x16 Winograd's inner-product form of a dot product in asm, 3 or 4 pixels x 16
//                 channels (the flat 1x1 layers' loop: one vpmaddwd per 32 MACs)
//   1x1 HxW C->O  Bi-Real-Net-18's downsample shortcut convolutions (6.4 M MACs each), int8
//                 input, int32 out and int8 out with a prepared high32 requant32 in the tile
// GMAC/s count the convolution's MACs (not the pair slots: 21 values per 7x7x3 kernel row take
// 11 pairs). Usage: avx2_stem_bound [REPS [1x1|stem]] (1x1: the 1x1 layers only; stem: the
// 7x7 stem only, int32 and int8 out). Build (C++ kernel build in build/ct):
//   g++ -O2 -std=c++17 -mavx2 -Icsrc benchmarks/avx2_stem_bound.cc build/ct/libbnnflow_core.a
//       -lpthread -o /tmp/avx2_stem_bound
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "best_seconds.h"
#include "kernels/conv_int8/conv_int8.h"
#include "kernels/requant/requant32_plan.h"

namespace {

// n steps of 12 vpmaddwd on 6 independent chains: 192 MACs a step.
void madd_only(long n) {
  asm volatile(
      "1:\n\t"
#define BNNFLOW_M6                                                                           \
  "vpmaddwd %%ymm0, %%ymm4, %%ymm4\n\tvpmaddwd %%ymm0, %%ymm5, %%ymm5\n\t"                   \
  "vpmaddwd %%ymm0, %%ymm6, %%ymm6\n\tvpmaddwd %%ymm0, %%ymm7, %%ymm7\n\t"                   \
  "vpmaddwd %%ymm0, %%ymm8, %%ymm8\n\tvpmaddwd %%ymm0, %%ymm9, %%ymm9\n\t"
      BNNFLOW_M6 BNNFLOW_M6
#undef BNNFLOW_M6
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "cc");
}

// n pair steps of the 3x32 tile (192 MACs a step), operands at p (L1).
void madd_add(long n, const void* p) {
  asm volatile(
      "1:\n\t"
      "vmovdqa (%1), %%ymm0\n\tvmovdqa 32(%1), %%ymm1\n\t"
#define BNNFLOW_P(o, a0, a1, a2, a3)                                                      \
  "vpbroadcastd " o "(%1), %%ymm2\n\t"                                                    \
  "vpmaddwd %%ymm0, %%ymm2, %%ymm3\n\tvpaddd %%ymm3, %%ymm" a0 ", %%ymm" a0 "\n\t"        \
  "vpmaddwd %%ymm1, %%ymm2, %%ymm3\n\tvpaddd %%ymm3, %%ymm" a1 ", %%ymm" a1 "\n\t"        \
  "vpmaddwd 64(%1), %%ymm2, %%ymm3\n\tvpaddd %%ymm3, %%ymm" a2 ", %%ymm" a2 "\n\t"        \
  "vpmaddwd 96(%1), %%ymm2, %%ymm2\n\tvpaddd %%ymm2, %%ymm" a3 ", %%ymm" a3 "\n\t"
      BNNFLOW_P("0", "4", "5", "6", "7") BNNFLOW_P("4", "8", "9", "10", "11")
      BNNFLOW_P("8", "12", "13", "14", "15")
#undef BNNFLOW_P
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      : "r"(p)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}

// n steps of 12 vpmaddwd (products into 6 rotating temporaries) and 6 vpaddd that add every
// other product into 6 accumulators: 192 MACs of multiplies a step, half of them accumulated.
void madd_half_add(long n) {
  asm volatile(
      "1:\n\t"
#define BNNFLOW_H(t, u, a)                                                                  \
  "vpmaddwd %%ymm0, %%ymm1, %%ymm" t "\n\tvpaddd %%ymm" t ", %%ymm" a ", %%ymm" a "\n\t" \
  "vpmaddwd %%ymm0, %%ymm1, %%ymm" u "\n\t"
      BNNFLOW_H("2", "3", "8") BNNFLOW_H("4", "5", "9") BNNFLOW_H("6", "7", "10")
      BNNFLOW_H("2", "3", "11") BNNFLOW_H("4", "5", "12") BNNFLOW_H("6", "7", "13")
#undef BNNFLOW_H
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "cc");
}

// n steps of Winograd's (1968) inner-product form for 3 pixels x 16 channels x 4 input values
// (192 MACs a step, as madd_add's): per pixel and 8 channels the int16 sums (x0 + w1, x2 + w3)
// and (x1 + w0, x3 + w2) by two vpaddw, one vpmaddwd of them, one vpaddd: 6 vpmaddwd and 18
// other ops a step instead of 12 + 12 (the x*x and w*w corrections are per pixel / per channel).
void ip_3x16(long n, const void* p) {
  asm volatile(
      "1:\n\t"
      "vmovdqa (%1), %%ymm0\n\tvmovdqa 32(%1), %%ymm1\n\t"
      "vmovdqa 64(%1), %%ymm2\n\tvmovdqa 96(%1), %%ymm3\n\t"
#define BNNFLOW_I(o, a0, a1)                                                                 \
  "vpbroadcastd " o "(%1), %%ymm4\n\tvpbroadcastd " o "+4(%1), %%ymm5\n\t"                 \
  "vpaddw %%ymm0, %%ymm4, %%ymm6\n\tvpaddw %%ymm1, %%ymm5, %%ymm7\n\t"                       \
  "vpmaddwd %%ymm7, %%ymm6, %%ymm6\n\tvpaddd %%ymm6, %%ymm" a0 ", %%ymm" a0 "\n\t"           \
  "vpaddw %%ymm2, %%ymm4, %%ymm8\n\tvpaddw %%ymm3, %%ymm5, %%ymm9\n\t"                       \
  "vpmaddwd %%ymm9, %%ymm8, %%ymm8\n\tvpaddd %%ymm8, %%ymm" a1 ", %%ymm" a1 "\n\t"
      BNNFLOW_I("128", "10", "11") BNNFLOW_I("136", "12", "13") BNNFLOW_I("144", "14", "15")
#undef BNNFLOW_I
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      : "r"(p)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}

// ip_3x16 with 4 pixels (256 MACs a step), the two temporaries shared by the channel halves.
void ip_4x16(long n, const void* p) {
  asm volatile(
      "1:\n\t"
      "vmovdqa (%1), %%ymm0\n\tvmovdqa 32(%1), %%ymm1\n\t"
      "vmovdqa 64(%1), %%ymm2\n\tvmovdqa 96(%1), %%ymm3\n\t"
#define BNNFLOW_I(o, a0, a1)                                                                 \
  "vpbroadcastd " o "(%1), %%ymm4\n\tvpbroadcastd " o "+4(%1), %%ymm5\n\t"                 \
  "vpaddw %%ymm0, %%ymm4, %%ymm6\n\tvpaddw %%ymm1, %%ymm5, %%ymm7\n\t"                       \
  "vpmaddwd %%ymm7, %%ymm6, %%ymm6\n\tvpaddd %%ymm6, %%ymm" a0 ", %%ymm" a0 "\n\t"           \
  "vpaddw %%ymm2, %%ymm4, %%ymm4\n\tvpaddw %%ymm3, %%ymm5, %%ymm5\n\t"                       \
  "vpmaddwd %%ymm5, %%ymm4, %%ymm4\n\tvpaddd %%ymm4, %%ymm" a1 ", %%ymm" a1 "\n\t"
      BNNFLOW_I("128", "8", "9") BNNFLOW_I("136", "10", "11") BNNFLOW_I("144", "12", "13")
      BNNFLOW_I("152", "14", "15")
#undef BNNFLOW_I
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      : "r"(p)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}

// One stem: 224x224x3 uint8 -> 112x112xO int32, KxK stride 2, pad K/2, prepared weights; with
// rq, int8 out through a prepared high32 requant32 in the register tile instead.
double stem_ms(int reps, std::size_t O, int K, bool rq = false) {
  using namespace bnnflow::glue;
  const std::size_t H = 224, W = 224, C = 3;
  std::vector<std::uint8_t> x(H * W * C);
  std::vector<std::int8_t> w(O * K * K * C);
  std::vector<std::int32_t> bias(O, 7), zp(C, 128), y(112 * 112 * O);
  std::uint32_t r = 1;
  for (auto& v : x) v = static_cast<std::uint8_t>((r = r * 1103515245u + 12345u) >> 16);
  for (auto& v : w) v = static_cast<std::int8_t>((r = r * 1103515245u + 12345u) >> 16);
  Conv2dInt8Args a{};
  a.x = x.data();
  a.x_unsigned = true;
  a.w = w.data();
  a.bias = bias.data();
  a.zp = zp.data();
  a.y = y.data();
  a.N = 1, a.H = H, a.W = W, a.Cin = C, a.Cout = O;
  a.KH = a.KW = K;
  a.stride = 2;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = K / 2;
  std::vector<std::int8_t> y8(112 * 112 * O);
  std::vector<std::int32_t> M(O), s(O, 40);
  std::vector<std::int64_t> B(O, std::int64_t{1} << 39);
  for (auto& v : M) v = static_cast<std::int32_t>(((r = r * 1103515245u + 12345u) >> 1) | 0x40000000u);
  const Requant32Plan plan(M.data(), B.data(), s.data(), O);
  Conv2dInt8Requant q{y8.data(), M.data(), B.data(), s.data(), avx2::requant32};
  q.prep = &plan.view();
  if (rq) a.rq = &q, a.y = nullptr;
  std::vector<std::uint8_t> raw(avx2::conv2d_int8_packed_bytes(a) + 64);  // zeroed
  void* packed = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(raw.data()) + 63) &
                                         ~std::uintptr_t{63});
  avx2::conv2d_int8_pack(a, packed);
  return 1e3 * best_seconds(reps, [&] { avx2::conv2d_int8_packed(a, packed, nullptr); });
}

// A 1x1 stride-1 convolution HxWxC int8 -> HxWxO, int32 out (rq false) or int8 out with a
// prepared high32 requant32 in the register tile (rq true), prepared weights.
double conv1x1_ms(int reps, std::size_t H, std::size_t C, std::size_t O, bool rq) {
  using namespace bnnflow::glue;
  std::vector<std::int8_t> x(H * H * C), w(O * C), y8(H * H * O);
  std::vector<std::int32_t> bias(O, 7), zp(C, 3), y(H * H * O), M(O), s(O, 40);
  std::vector<std::int64_t> B(O);
  std::uint32_t r = 1;
  for (auto& v : x) v = static_cast<std::int8_t>((r = r * 1103515245u + 12345u) >> 16);
  for (auto& v : w) v = static_cast<std::int8_t>((r = r * 1103515245u + 12345u) >> 16);
  for (std::size_t o = 0; o < O; ++o) {
    M[o] = static_cast<std::int32_t>(((r = r * 1103515245u + 12345u) >> 1) | 0x40000000u);
    B[o] = std::int64_t{1} << 39;
  }
  const Requant32Plan plan(M.data(), B.data(), s.data(), O);
  Conv2dInt8Requant q{y8.data(), M.data(), B.data(), s.data(), avx2::requant32};
  q.prep = &plan.view();
  Conv2dInt8Args a{};
  a.x = x.data();
  a.x_unsigned = false;
  a.w = w.data();
  a.bias = bias.data();
  a.zp = zp.data();
  a.y = rq ? nullptr : y.data();
  a.rq = rq ? &q : nullptr;
  a.N = 1, a.H = H, a.W = H, a.Cin = C, a.Cout = O;
  a.KH = a.KW = 1;
  a.stride = 1;
  std::vector<std::uint8_t> raw(avx2::conv2d_int8_packed_bytes(a) + 64);  // zeroed
  void* packed = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(raw.data()) + 63) &
                                         ~std::uintptr_t{63});
  avx2::conv2d_int8_pack(a, packed);
  return 1e3 * best_seconds(reps, [&] { avx2::conv2d_int8_packed(a, packed, nullptr); });
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 300;
  alignas(64) static std::int32_t buf[64] = {};
  for (int i = 0; i < 64; ++i) buf[i] = static_cast<std::int32_t>(i * 2654435761u);
  const long n = 20000;
  const double macs = 192.0 * n;
  if (argc > 2 && std::strcmp(argv[2], "stem") == 0) {  // the 7x7 stem only (A/B builds)
    std::printf("stem 7x7 s2 3->64  %.4f ms\n", stem_ms(reps, 64, 7));
    std::printf("stem 7x7 int8 out  %.4f ms\n", stem_ms(reps, 64, 7, true));
    return 0;
  }
  std::printf("madd only   %6.1f GMAC/s\n", macs / best_seconds(reps, [&] { madd_only(n); }) / 1e9);
  std::printf("madd+add    %6.1f GMAC/s\n", macs / best_seconds(reps, [&] { madd_add(n, buf); }) / 1e9);
  std::printf("madd+add/2  %6.1f GMAC/s (of multiplies)\n",
              macs / best_seconds(reps, [&] { madd_half_add(n); }) / 1e9);
  std::printf("ip 3x16     %6.1f GMAC/s (Winograd inner product, as MACs)\n",
              macs / best_seconds(reps, [&] { ip_3x16(n, buf); }) / 1e9);
  std::printf("ip 4x16     %6.1f GMAC/s\n",
              macs * 4 / 3 / best_seconds(reps, [&] { ip_4x16(n, buf); }) / 1e9);
  const bool only_1x1 = argc > 2 && std::strcmp(argv[2], "1x1") == 0;  // skip the stems
  for (int run = 0; run < 1 && !only_1x1; ++run) {
  const double t7 = stem_ms(reps, 64, 7), t3 = stem_ms(reps * 4, 16, 3);
  std::printf("stem 7x7 s2 3->64  %.4f ms  %6.1f GMAC/s\n", t7, 112.0 * 112 * 64 * 147 / t7 / 1e6);
  const double t7q = stem_ms(reps, 64, 7, true);
  std::printf("stem 7x7 int8 out  %.4f ms  %6.1f GMAC/s\n", t7q, 112.0 * 112 * 64 * 147 / t7q / 1e6);
  std::printf("stem 3x3 s2 3->16  %.4f ms  %6.1f GMAC/s\n", t3, 112.0 * 112 * 16 * 27 / t3 / 1e6);
  }
  const std::size_t shapes[3][3] = {{28, 64, 128}, {14, 128, 256}, {7, 256, 512}};
  for (const auto& sh : shapes) {
    const double macs1 = static_cast<double>(sh[0] * sh[0] * sh[1] * sh[2]);
    for (const bool rq : {false, true}) {
      const double t = conv1x1_ms(reps * 4, sh[0], sh[1], sh[2], rq);
      std::printf("1x1 %zux%zu %zu->%zu %s  %.4f ms  %6.1f GMAC/s\n", sh[0], sh[0], sh[1], sh[2],
                  rq ? "int8 " : "int32", t, macs1 / t / 1e6);
    }
  }
}
