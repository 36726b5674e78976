// The AVX-512 VNNI int8 stem against the rate of its instruction mix (docs/performance.md, "The
// AVX-512 stem and downsample chains against the VNNI peak"). Best of REPS calls, one thread,
// x86-64 with AVX-512 VNNI:
//   dpbusd only   24 independent vpdpbusd chains, the weight operand in registers: the rate of
//                 `int8_mac_peak` (64 MACs each)
//   tile steady   the 6x64 tile's quad step in asm: 4 weight loads, 6 pixel broadcasts, 24
//                 vpdpbusd, no loop exit but the outer one (what the tile can reach)
//   stem int32    conv2d_int8_packed (AVX-512), ResNet's stem 224x224x3 uint8 -> 112x112x64
//                 int32, 7x7 s2 pad 3, prepared weights (118.0 M MACs)
//   stem int8     the same with a prepared high32 requant32 in the register tile (int8 out, as
//                 the band chains run it)
//   stem 3x3      QuickNet's stem, 3x3 s2 pad 1 -> 112x112x16 int32 (5.4 M MACs)
// GMAC/s count the convolution's MACs (147 per output, in 37 quads: one slot of 148 is a zero
// weight). The kernel is the AVX-512 conv2d_int8 source named by BNNFLOW_CONV_AVX512_SRC
// (default: the tree's; pass an older copy to compare), compiled in under its own namespace;
// the checksum must not depend on the source compared. Usage: avx512_stem_bound [REPS [int8]]
// (int8: only the int8 stem, for perf record).
// Build (C++ kernel build in build/ct):
//   g++ -O2 -std=c++17 -mavx2 -mfma -mbmi2 -mavx512f -mavx512bw -mavx512dq -mavx512vl
//       -mavx512vnni -Icsrc benchmarks/avx512_stem_bound.cc build/ct/libbnnflow_core.a
//       -lpthread -o /tmp/avx512_stem_bound
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "best_seconds.h"
#include "kernels/conv_int8/conv_int8.h"
#include "kernels/requant/requant32_plan.h"
#ifndef BNNFLOW_CONV_AVX512_SRC
#define BNNFLOW_CONV_AVX512_SRC "kernels/conv_int8/conv_int8_avx512_6x64.cc"
#endif
namespace bnnflow::glue::avx512_bound {
BNNFLOW_GLUE_CONV_INT8_KERNELS
}
#define avx512 avx512_bound  // the library's own avx512 kernels stay untouched
#include BNNFLOW_CONV_AVX512_SRC
#undef avx512

namespace {

#define BNNFLOW_D4(a0, a1, a2, a3)                                                            \
  "vpdpbusd %%zmm0, %%zmm1, %%zmm" a0 "\n\tvpdpbusd %%zmm0, %%zmm1, %%zmm" a1 "\n\t"          \
  "vpdpbusd %%zmm0, %%zmm1, %%zmm" a2 "\n\tvpdpbusd %%zmm0, %%zmm1, %%zmm" a3 "\n\t"

// n steps of 24 vpdpbusd on 24 independent chains: 1536 MACs a step.
void dpbusd_only(long n) {
  asm volatile(
      "1:\n\t"
      BNNFLOW_D4("8", "9", "10", "11") BNNFLOW_D4("12", "13", "14", "15")
      BNNFLOW_D4("16", "17", "18", "19") BNNFLOW_D4("20", "21", "22", "23")
      BNNFLOW_D4("24", "25", "26", "27") BNNFLOW_D4("28", "29", "30", "31")
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
        "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "cc");
}
#undef BNNFLOW_D4

// n quad steps of the 6x64 tile (1536 MACs a step), operands at p (L1).
void tile_steady(long n, const void* p) {
  asm volatile(
      "1:\n\t"
      "vmovdqu64 (%1), %%zmm0\n\tvmovdqu64 64(%1), %%zmm1\n\t"
      "vmovdqu64 128(%1), %%zmm2\n\tvmovdqu64 192(%1), %%zmm3\n\t"
#define BNNFLOW_P(o, a0, a1, a2, a3)                                                      \
  "vpbroadcastd " o "(%1), %%zmm4\n\t"                                                    \
  "vpdpbusd %%zmm0, %%zmm4, %%zmm" a0 "\n\tvpdpbusd %%zmm1, %%zmm4, %%zmm" a1 "\n\t"      \
  "vpdpbusd %%zmm2, %%zmm4, %%zmm" a2 "\n\tvpdpbusd %%zmm3, %%zmm4, %%zmm" a3 "\n\t"
      BNNFLOW_P("0", "8", "9", "10", "11") BNNFLOW_P("8", "12", "13", "14", "15")
      BNNFLOW_P("16", "16", "17", "18", "19") BNNFLOW_P("24", "20", "21", "22", "23")
      BNNFLOW_P("32", "24", "25", "26", "27") BNNFLOW_P("40", "28", "29", "30", "31")
#undef BNNFLOW_P
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(n)
      : "r"(p)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
        "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
        "xmm31", "memory", "cc");
}

struct Stem {
  std::vector<std::uint8_t> x;
  std::vector<std::int8_t> w;
  std::vector<std::int32_t> bias, zp, y, M, s;
  std::vector<std::int64_t> B;
  std::vector<std::int8_t> y8;
  std::vector<std::uint8_t> raw;
  bnnflow::glue::Conv2dInt8Args a{};
  void* packed = nullptr;

  // 224x224x3 uint8 -> 112x112xO, KxK stride 2, pad K/2, prepared weights.
  Stem(std::size_t O, int K) {
    using namespace bnnflow::glue;
    const std::size_t H = 224, W = 224, C = 3;
    x.resize(H * W * C);
    w.resize(O * K * K * C);
    bias.assign(O, 7);
    zp.assign(C, 128);
    y.resize(112 * 112 * O);
    y8.resize(112 * 112 * O);
    std::uint32_t r = 1;
    for (auto& v : x) v = static_cast<std::uint8_t>((r = r * 1103515245u + 12345u) >> 16);
    for (auto& v : w) v = static_cast<std::int8_t>((r = r * 1103515245u + 12345u) >> 16);
    for (std::size_t o = 0; o < O; ++o) {  // high32 (s >= 32), like converted models
      M.push_back(static_cast<std::int32_t>(1500000000 + 1000 * o));
      B.push_back(static_cast<std::int64_t>(o) << 33);
      s.push_back(40);
    }
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
    raw.resize(avx512_bound::conv2d_int8_packed_bytes(a) + 64);  // zeroed
    packed = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(raw.data()) + 63) &
                                     ~std::uintptr_t{63});
    avx512_bound::conv2d_int8_pack(a, packed);
  }
  double ms(int reps) {
    return 1e3 * best_seconds(reps, [&] { bnnflow::glue::avx512_bound::conv2d_int8_packed(a, packed, nullptr); });
  }
  double ms_int8(int reps) {
    using namespace bnnflow::glue;
    Requant32Plan plan(M.data(), B.data(), s.data(), M.size());
    Conv2dInt8Requant rq{};
    rq.y = y8.data();
    rq.M = M.data();
    rq.B = B.data();
    rq.s = s.data();
    rq.fn = avx512::requant32;
    rq.prep = &plan.view();
    Conv2dInt8Args b = a;
    b.y = nullptr;
    b.rq = &rq;
    if (!avx512_bound::conv2d_int8_requant_in_tile(b)) std::printf("(requant not in the tile)\n");
    return 1e3 * best_seconds(reps, [&] { avx512_bound::conv2d_int8_packed(b, packed, nullptr); });
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 300;
  if (argc > 2 && std::string(argv[2]) == "int8") {  // only the int8 stem (for perf record)
    Stem s7(64, 7);
    std::printf("stem 7x7 int8  %.4f ms\n", s7.ms_int8(reps));
    return 0;
  }
  alignas(64) static std::int32_t buf[64] = {};
  for (int i = 0; i < 64; ++i) buf[i] = static_cast<std::int32_t>(i * 2654435761u);
  const long n = 20000;
  const double macs = 1536.0 * n;
  std::printf("dpbusd only   %6.1f GMAC/s\n", macs / best_seconds(reps, [&] { dpbusd_only(n); }) / 1e9);
  std::printf("tile steady   %6.1f GMAC/s\n",
              macs / best_seconds(reps, [&] { tile_steady(n, buf); }) / 1e9);
  Stem s7(64, 7), s3(16, 3);
  const double t7 = s7.ms(reps), t7q = s7.ms_int8(reps), t3 = s3.ms(reps * 4);
  const double m7 = 112.0 * 112 * 64 * 147, m3 = 112.0 * 112 * 16 * 27;
  std::printf("stem 7x7 int32 %.4f ms  %6.1f GMAC/s\n", t7, m7 / t7 / 1e6);
  std::printf("stem 7x7 int8  %.4f ms  %6.1f GMAC/s\n", t7q, m7 / t7q / 1e6);
  std::printf("stem 3x3 int32 %.4f ms  %6.1f GMAC/s\n", t3, m3 / t3 / 1e6);
  std::uint32_t sum = 0;
  for (std::int32_t v : s7.y) sum = sum * 31u + static_cast<std::uint32_t>(v);
  for (std::int8_t v : s7.y8) sum = sum * 31u + static_cast<std::uint8_t>(v);
  for (std::int32_t v : s3.y) sum = sum * 31u + static_cast<std::uint32_t>(v);
  std::printf("checksum %08x\n", sum);
}
