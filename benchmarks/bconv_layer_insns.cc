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
//   g++ -O2 -g -std=c++17 -Icsrc benchmarks/bconv_layer_insns.cc build/cpp/libbnnflow_core.a
//       -lpthread -o /tmp/bconv_layer_insns
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
    std::fprintf(stderr, "usage: %s LAYER(0-6) CALLS [KIND]\n", argv[0]);
    return 2;
  }
  const Layer L = kLayers[std::atoi(argv[1])];
  const int calls = std::atoi(argv[2]);
  const int kindi = argc > 3 ? std::atoi(argv[3]) : 2;
  const bool tail = kindi >= 4;
  const int K = 3, C = L.cout;
  std::mt19937 rng(1);
  std::vector<uint32_t> x(static_cast<size_t>(L.hw) * L.hw * L.cin / 32);
  std::vector<uint32_t> w(static_cast<size_t>(C) * K * K * L.cin / 32);
  for (auto& v : x) v = rng();
  for (auto& v : w) v = rng();
  BconvWeights W = prepare_bconv_weights(w.data(), C, K, K, L.cin, 1, Isa::kAvx2);
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
  for (int i = 0; i < calls; ++i) bconv2d(W, x.data(), g, ep, out.data(), pool);
  const double macs = static_cast<double>(ho) * ho * C * K * K * L.cin;
  if (tail) std::printf("bits %u ", bits[7]);
  std::printf("out %u binary MACs %.0f ceiling-loop instructions %.0f popcount-loop %.0f\n",
              out[5], macs, macs / 1024 * 33, macs / 2048 * 64);
}
