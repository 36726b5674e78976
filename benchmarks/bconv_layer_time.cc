// Time per call of the AVX-512 binary convolution on each 3x3 layer of ResNet-18 at 224x224
// (1 thread, batch 1, padding 1, 'zero' mode, random data): the minimum over BATCHES batches
// of 10 calls, and a hash of the outputs (and of the residual tail's packed bits) so that two
// builds can be compared for identical results. The "C++ loop" figures of
// docs/performance.md; run two builds alternately (a shared machine moves by more than the
// changes). Usage: bconv_layer_time LAYER BATCHES [KIND [ISA]], LAYER and KIND as in
// bconv_layer_insns.cc (KIND 2 = int8, 4 = int8 + residual add + pack in registers), ISA
// avx512 (default) or avx2 (the AVX2 kernels, which an AVX-512 CPU runs too). COPIES (default
// 1): that many copies of the layer (own weights, input and outputs), called in turn, so that
// with enough of them each call finds its weights in L3 rather than L2, as a layer in a model
// does (8 copies of 512->512: 4.7 MB of nibble-split weights against Zen 4's 1 MB L2).
// Build (C++ kernel build in build/cpp, on a CPU with AVX-512 VPOPCNTDQ; -Ibenchmarks for
// bconv_layer_case.h):
//   g++ -O2 -std=c++17 -Icsrc -Ibenchmarks benchmarks/bconv_layer_time.cc build/cpp/libbnnflow_core.a
//       -lpthread -o /tmp/bconv_layer_time
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "bconv_layer_case.h"
using namespace bnnflow;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LAYER(0-6) BATCHES [KIND [avx512|avx2 [COPIES]]]\n",
                 argv[0]);
    return 2;
  }
  const int batches = std::atoi(argv[2]);
  const std::string isa = argc > 4 ? argv[4] : "avx512";
  if (isa != "avx512" && isa != "avx2") {
    std::fprintf(stderr, "ISA must be avx512 or avx2, got %s\n", isa.c_str());
    return 2;
  }
  const int copies = argc > 5 ? std::atoi(argv[5]) : 1;
  if (copies < 1) {
    std::fprintf(stderr, "COPIES must be >= 1, got %s\n", argv[5]);
    return 2;
  }
  std::vector<std::unique_ptr<bench::LayerCase>> cases;
  for (int c = 0; c < copies; ++c) {
    cases.push_back(std::make_unique<bench::LayerCase>(
        std::atoi(argv[1]), argc > 3 ? std::atoi(argv[3]) : 2,
        isa == "avx2" ? Isa::kAvx2 : Isa::kAvx512));
  }
  const bench::LayerCase& lc = *cases[0];
  ThreadPool pool(1);
  double best = 1e9;
  int next = 0;
  for (int b = 0; b < batches; ++b) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i, next = (next + 1) % copies) cases[next]->call(pool);
    const auto dt = std::chrono::steady_clock::now() - t0;
    const double ms = std::chrono::duration<double, std::milli>(dt).count() / 10;
    if (ms < best) best = ms;
  }
  unsigned h = 0;
  for (auto v : lc.out) h = h * 31 + v;
  for (auto v : lc.bits) h = h * 31 + v;
  std::printf("min_ms %.4f hash %u binary GMAC/s %.1f\n", best, h,
              lc.binary_macs() / best / 1e6);
}
