// Instructions per AVX2 int8 stem call under valgrind --tool=callgrind (docs/glue-kernels.md,
// "AVX2 stem: instruction counts"). Includes the AVX2 conv2d_int8 source named by
// BNNFLOW_CONV_AVX2_SRC (default: the tree's; pass an older copy to compare), renamed into its
// own namespace, packs the weights once and runs conv2d_int8_packed CALLS times on one thread.
// Usage: stem_int8_insns SHAPE CALLS, SHAPE = bireal (224x224x3 -> 112x112x64, 7x7 s2 pad 3)
// or quicknet (224x224x3 -> 112x112x16, 3x3 s2 pad 1). Prints an output checksum, which must
// not depend on the source compared.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include <immintrin.h>

#include "kernels/conv_int8/conv_int8.h"
#include "kernels/common/conv_prep.h"
#ifndef BNNFLOW_CONV_AVX2_SRC
#define BNNFLOW_CONV_AVX2_SRC "kernels/conv_int8/conv_int8_avx2_3x32.cc"
#endif
namespace bnnflow::glue::avx2_insns {
BNNFLOW_GLUE_CONV_INT8_KERNELS
}
#define avx2 avx2_insns  // the library's own avx2 kernels stay untouched
#include BNNFLOW_CONV_AVX2_SRC
#undef avx2

int main(int argc, char** argv) {
  using namespace bnnflow::glue;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s bireal|quicknet CALLS\n", argv[0]);
    return 2;
  }
  const bool bireal = std::strcmp(argv[1], "bireal") == 0;
  const int calls = std::atoi(argv[2]);
  Conv2dInt8Args a{};
  a.N = 1; a.H = 224; a.W = 224; a.Cin = 3;
  a.Cout = bireal ? 64 : 16;
  a.KH = a.KW = bireal ? 7 : 3;
  a.stride = 2;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = bireal ? 3 : 1;
  a.x_unsigned = true;
  std::mt19937 rng(1);
  std::vector<std::uint8_t> x(a.N * a.H * a.W * a.Cin);
  std::vector<std::int8_t> w(a.Cout * a.KH * a.KW * a.Cin);
  for (auto& v : x) v = static_cast<std::uint8_t>(rng());
  for (auto& v : w) v = static_cast<std::int8_t>(rng());
  std::vector<std::int32_t> bias(a.Cout, 1000), zp{124, 116, 104};
  a.x = x.data(); a.w = w.data(); a.bias = bias.data(); a.zp = zp.data();
  std::vector<std::int32_t> y(a.N * 112 * 112 * a.Cout);
  a.y = y.data();
  GlueBuffer<std::uint8_t> packed(avx2_insns::conv2d_int8_packed_bytes(a));
  avx2_insns::conv2d_int8_pack(a, packed.data());
  for (int i = 0; i < calls; ++i) avx2_insns::conv2d_int8_packed(a, packed.data(), nullptr);
  std::uint32_t sum = 0;
  for (std::int32_t v : y) sum = sum * 31u + static_cast<std::uint32_t>(v);
  std::printf("%08x\n", sum);
}
