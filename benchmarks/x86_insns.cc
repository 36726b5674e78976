// Instructions per call of the AVX2 kernels under valgrind --tool=callgrind (valgrind has no
// AVX-512), the check that a restructuring left the inner loops alone (docs/development.md,
// "The kernel framework"). Usage: x86_insns OP CALLS [KIND]; OP 0 = bconv 14x14 128->128 3x3
// fused (KIND = EpilogueKind value), 1 = the same through the tile epilogue only, 4 = groups
// of 8 channels (8x8 tile), 2 = dwconv_int8 3x3 28x28x64, 3 = dense_int8 4x517->70.
// Per call = (Ir of CALLS=3 - Ir of CALLS=1) / 2. Build:
//   g++ -O2 -std=c++17 -Icsrc benchmarks/x86_insns.cc build/cpp/libbnnflow_core.a -lpthread
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "kernels/bconv/bconv.h"
#include "kernels/bconv/bconv_isa.h"
#include "kernels/dense_int8/dense_int8.h"
#include "kernels/dwconv_int8/dwconv_int8.h"
using namespace bnnflow;
int main(int argc, char** argv) {
  const int op = std::atoi(argv[1]);
  const int calls = std::atoi(argv[2]);
  const int kindi = argc > 3 ? std::atoi(argv[3]) : 2;
  std::mt19937 rng(1);
  if (op == 0 || op == 1 || op == 4) {
    const int H = 14, C = 128, K = 3, G = op == 4 ? 16 : 1;
    std::vector<uint32_t> x(H * H * C / 32), w(C * K * K * C / G / 32 + 8);
    for (auto& v : x) v = rng();
    for (auto& v : w) v = rng();
    BconvMicrokernel mk = *avx2::bconv_microkernel(C / G);
    if (op == 1) mk.run_many_finish = nullptr;
    BconvWeights W = prepare_bconv_weights(w.data(), C, K, K, C, G, &mk);
    std::vector<float> scale(C, 0.5f), bias(C, 1.f);
    std::vector<int16_t> mult(C, 300);
    std::vector<int32_t> off(C, 1000), sh(C, 8), thr(C, 3);
    Epilogue ep;
    ep.kind = static_cast<EpilogueKind>(kindi);
    ep.scale = scale.data(); ep.bias = bias.data(); ep.mult = mult.data(); ep.offset = off.data();
    ep.shift = sh.data(); ep.threshold = thr.data();
    std::vector<uint32_t> out(H * H * C);
    ThreadPool pool(1);
    BconvGeometry g{1, H, H, 1, 1, 1, 1, 1, PadMode::kZero};
    for (int i = 0; i < calls; ++i) bconv2d(W, x.data(), g, ep, out.data(), pool);
    std::printf("%u\n", out[5]);
  } else if (op == 2) {
    const std::size_t H = 28, C = 64;
    std::vector<int8_t> x(H * H * C), w(C * 9);
    for (auto& v : x) v = static_cast<int8_t>(rng());
    for (auto& v : w) v = static_cast<int8_t>(rng());
    std::vector<int32_t> bias(C, 7), zp(C, 3), y(H * H * C);
    glue::DwConv2dInt8Args a{x.data(), false, w.data(), bias.data(), zp.data(), y.data(),
                             1, H, H, C, 1, 3, 3, 1, 1};
    for (int i = 0; i < calls; ++i) glue::avx2::dwconv2d_int8(a, nullptr);
    std::printf("%d\n", y[5]);
  } else {
    const std::size_t N = 4, Cin = 517, Cout = 70;
    std::vector<int8_t> x(N * Cin), w(Cout * Cin);
    for (auto& v : x) v = static_cast<int8_t>(rng());
    for (auto& v : w) v = static_cast<int8_t>(rng());
    std::vector<int32_t> bias(Cout, 7), y(N * Cout);
    glue::DenseInt8Args a{x.data(), w.data(), bias.data(), y.data(), N, Cin, Cout};
    for (int i = 0; i < calls; ++i) glue::avx2::dense_int8(a, nullptr);
    std::printf("%d\n", y[5]);
  }
}
