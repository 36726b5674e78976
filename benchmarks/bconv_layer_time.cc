// Time per call of the AVX-512 binary convolution on each 3x3 layer of ResNet-18 at 224x224
// (1 thread, batch 1, padding 1, 'zero' mode, random data): the minimum over BATCHES batches
// of 10 calls, and a hash of the outputs (and of the residual tail's packed bits) so that two
// builds can be compared for identical results. The "C++ loop" figures of
// docs/performance.md; run two builds alternately (a shared machine moves by more than the
// changes). Usage: bconv_layer_time LAYER BATCHES [KIND], LAYER and KIND as in
// bconv_layer_insns.cc (KIND 2 = int8, 4 = int8 + residual add + pack in registers).
// Build (C++ kernel build in build/cpp, on a CPU with AVX-512 VPOPCNTDQ):
//   g++ -O2 -std=c++17 -Icsrc benchmarks/bconv_layer_time.cc build/cpp/libbnnflow_core.a
//       -lpthread -o /tmp/bconv_layer_time
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/bconv/bconv.h"
#include "kernels/bconv/bconv_isa.h"
using namespace bnnflow;

namespace {
struct Layer {
  int cin, cout, hw, stride;
};
constexpr Layer kLayers[] = {{64, 64, 56, 1},   {64, 128, 56, 2},  {128, 128, 28, 1},
                             {128, 256, 28, 2}, {256, 256, 14, 1}, {256, 512, 14, 2},
                             {512, 512, 7, 1}};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LAYER(0-6) BATCHES [KIND]\n", argv[0]);
    return 2;
  }
  const Layer L = kLayers[std::atoi(argv[1])];
  const int batches = std::atoi(argv[2]);
  const int kindi = argc > 3 ? std::atoi(argv[3]) : 2;
  const bool tail = kindi >= 4;
  const int K = 3, C = L.cout;
  std::mt19937 rng(1);
  std::vector<uint32_t> x(static_cast<size_t>(L.hw) * L.hw * L.cin / 32);
  std::vector<uint32_t> w(static_cast<size_t>(C) * K * K * L.cin / 32);
  for (auto& v : x) v = rng();
  for (auto& v : w) v = rng();
  BconvWeights W = prepare_bconv_weights(w.data(), C, K, K, L.cin, 1, Isa::kAvx512);
  std::vector<float> scale(C, 0.5f), bias(C, 0.f);
  std::vector<int16_t> mult(C, 3);
  std::vector<int32_t> off(C, 0), sh(C, 2), thr(C, 0);
  Epilogue ep;
  ep.kind = tail ? EpilogueKind::kInt8 : static_cast<EpilogueKind>(kindi);
  ep.scale = scale.data();
  ep.bias = bias.data();
  ep.mult = mult.data();
  ep.offset = off.data();
  ep.shift = sh.data();
  ep.threshold = thr.data();
  const int ho = conv_out_size(L.hw, K, L.stride, 1, 1);
  std::vector<uint32_t> out(static_cast<size_t>(ho) * ho * C);
  // The residual tail: model-like parameters (My, Mr, Mp, Mn int16, s = ps = 8).
  const size_t pixels = static_cast<size_t>(ho) * ho;
  std::vector<int8_t> r(pixels * C);
  for (auto& v : r) v = static_cast<int8_t>(rng());
  std::vector<int32_t> my(C, 200), mr(C, 180), pairs(C), br(C, 128), s8(C, 8), t(C, 0),
      mp(C, 256), mn(C, 64), bp(C, 128), bn(C, 128), pack_t(C, 0);
  for (int c = 0; c < C; ++c) pairs[c] = (my[c] & 0xffff) | (mr[c] << 16);
  std::vector<uint32_t> bits(pixels * packed_words(C, 1));
  ResidualTail rt;
  rt.r = r.data(), rt.my = my.data(), rt.mr = mr.data(), rt.pairs = pairs.data();
  rt.br = br.data(), rt.s = s8.data();
  rt.pwl = kindi == 5;
  rt.t = t.data(), rt.mp = mp.data(), rt.mn = mn.data(), rt.bp = bp.data(), rt.bn = bn.data();
  rt.ps = s8.data();
  rt.bits = bits.data(), rt.pack_t = pack_t.data();
  const auto no_post = [](const void*, void*, size_t, size_t) {
    std::fprintf(stderr, "the tail took the post pass\n");
    std::exit(1);
  };
  std::vector<int32_t> table;
  if (tail) {
    ep.tail = &rt;
    ep.post = {+no_post, nullptr};
    table = make_tail_table(ep, C, rt);  // once, as the engine's steps do
    rt.table = table.data();
  }
  ThreadPool pool(1);
  const BconvGeometry g{1, L.hw, L.hw, L.stride, 1, 1, 1, 1, PadMode::kZero};
  double best = 1e9;
  for (int b = 0; b < batches; ++b) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) bconv2d(W, x.data(), g, ep, out.data(), pool);
    const auto dt = std::chrono::steady_clock::now() - t0;
    const double ms = std::chrono::duration<double, std::milli>(dt).count() / 10;
    if (ms < best) best = ms;
  }
  unsigned h = 0;
  for (auto v : out) h = h * 31 + v;
  for (auto v : bits) h = h * 31 + v;
  const double macs = static_cast<double>(ho) * ho * C * K * K * L.cin;
  std::printf("min_ms %.4f hash %u binary GMAC/s %.1f\n", best, h, macs / best / 1e6);
}
