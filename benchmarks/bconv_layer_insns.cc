// Instructions per call of the AVX2 binary convolution on each 3x3 layer of ResNet-18 at
// 224x224, under valgrind --tool=callgrind (valgrind has no AVX-512), next to the
// instructions the AVX2 ceiling loop needs for the same binary MACs (split_nibble_lut in
// csrc/measure/ceiling_avx2_methods.cc as GCC 12 -O3 compiles it: 33 instructions per
// 4 x 256 MACs) and the micro-kernel's own popcount loop (64 instructions per word step of
// the 4x16 tile, 4 · 16 · 32 MACs; 65 before the memory-operand weights): the counts behind
// docs/performance.md, "Per-layer instruction counts".
// Usage: bconv_layer_insns LAYER CALLS [KIND]; LAYER 0..6 in the order of
// bnnflow.bench.kernels.RESNET18_LAYERS, KIND an EpilogueKind value (default 2 = int8), or 4:
// int8 with the residual tail in registers (add + pack of the next layer's sign, the
// `bconv+add+pack` step of a Bi-Real-Net block), 5: the same with a pwl (RPReLU) in between.
// Per call = (Ir of CALLS=3 - Ir of CALLS=1) / 2. Build (C++ kernel build in build/cpp):
//   g++ -O2 -g -std=c++17 -Icsrc -Ibenchmarks benchmarks/bconv_layer_insns.cc build/cpp/libbnnflow_core.a
//       -lpthread -o /tmp/bconv_layer_insns
#include <cstdio>
#include <cstdlib>

#include "bconv_layer_case.h"
using namespace bnnflow;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LAYER(0-6) CALLS [KIND]\n", argv[0]);
    return 2;
  }
  const int calls = std::atoi(argv[2]);
  bench::LayerCase lc(std::atoi(argv[1]), argc > 3 ? std::atoi(argv[3]) : 2, Isa::kAvx2);
  ThreadPool pool(1);
  for (int i = 0; i < calls; ++i) lc.call(pool);
  const double macs = lc.binary_macs();
  if (lc.tail) std::printf("bits %u ", lc.bits[7]);
  std::printf("out %u binary MACs %.0f ceiling-loop instructions %.0f popcount-loop %.0f\n",
              lc.out[5], macs, macs / 1024 * 33, macs / 2048 * 64);
}
