// One 3x3 layer of ResNet-18 at 224x224 as a ready bconv2d call (1 image, padding 1, 'zero'
// mode, random data, model-like epilogue parameters), shared by bconv_layer_insns.cc and
// bconv_layer_time.cc. KIND is an EpilogueKind value, or 4: int8 with the residual tail in
// registers (add + pack of the next layer's sign, the `bconv+add+pack` step of a Bi-Real-Net
// block), 5: the same with a pwl (RPReLU) in between.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "kernels/bconv/bconv.h"
#include "kernels/bconv/bconv_isa.h"

namespace bnnflow::bench {

struct Layer {
  int cin, cout, hw, stride;
};
// In the order of bnnflow.bench.kernels.RESNET18_LAYERS.
constexpr Layer kLayers[] = {{64, 64, 56, 1},   {64, 128, 56, 2},  {128, 128, 28, 1},
                             {128, 256, 28, 2}, {256, 256, 14, 1}, {256, 512, 14, 2},
                             {512, 512, 7, 1}};

struct LayerCase {
  static constexpr int K = 3;
  Layer L;
  int ho = 0;
  bool tail = false;
  std::vector<uint32_t> x, w, out, bits;
  std::vector<float> scale, bias;
  std::vector<int16_t> mult;
  std::vector<int32_t> off, sh, thr;
  std::vector<int8_t> r;
  std::vector<int32_t> my, mr, pairs, br, s8, t, mp, mn, bp, bn, pack_t;
  AlignedVector<int32_t> table;
  BconvWeights W;
  Epilogue ep;
  ResidualTail rt;
  BconvGeometry g{};

  LayerCase(int layer, int kind, Isa isa) : L(kLayers[layer]), tail(kind >= 4) {
    const int C = L.cout;
    std::mt19937 rng(1);
    x.resize(static_cast<size_t>(L.hw) * L.hw * L.cin / 32);
    w.resize(static_cast<size_t>(C) * K * K * L.cin / 32);
    for (auto& v : x) v = rng();
    for (auto& v : w) v = rng();
    W = prepare_bconv_weights(w.data(), C, K, K, L.cin, 1, isa);
    scale.assign(C, 0.5f), bias.assign(C, 0.f), mult.assign(C, 3);
    off.assign(C, 0), sh.assign(C, 2), thr.assign(C, 0);
    ep.kind = tail ? EpilogueKind::kInt8 : static_cast<EpilogueKind>(kind);
    ep.scale = scale.data(), ep.bias = bias.data(), ep.mult = mult.data();
    ep.offset = off.data(), ep.shift = sh.data(), ep.threshold = thr.data();
    ho = conv_out_size(L.hw, K, L.stride, 1, 1);
    out.resize(static_cast<size_t>(ho) * ho * C);
    bits.resize(static_cast<size_t>(ho) * ho * packed_words(C, 1));  // zeros without a tail
    if (tail) set_tail(kind == 5, rng);
    g = BconvGeometry{1, L.hw, L.hw, L.stride, 1, 1, 1, 1, PadMode::kZero};
  }

  double binary_macs() const {
    return static_cast<double>(ho) * ho * L.cout * K * K * L.cin;
  }

  // As the engine's steps call it: the layer's plan made once (BCONV_PLAN_PER_CALL=1 in the
  // environment makes it on every call, as the planless bconv2d and the Python binding do).
  void call(ThreadPool& pool) {
    if (per_call_plan()) {
      bconv2d(W, x.data(), g, ep, out.data(), pool);
      return;
    }
    if (!plan) plan = plan_bconv(W, g, ep);
    bconv2d(*plan, x.data(), g.n, ep, out.data(), pool);
  }

 private:
  static bool per_call_plan() {
    static const bool on = [] {
      const char* v = std::getenv("BCONV_PLAN_PER_CALL");
      return v != nullptr && v[0] == '1';
    }();
    return on;
  }
  std::shared_ptr<const BconvPlan> plan;

  // Model-like tail parameters (My, Mr, Mp, Mn int16, s = ps = 8); the table made once, as
  // the engine's steps do. A call that falls back to the post pass exits with an error.
  void set_tail(bool pwl, std::mt19937& rng) {
    const int C = L.cout;
    const size_t pixels = static_cast<size_t>(ho) * ho;
    r.resize(pixels * C);
    for (auto& v : r) v = static_cast<int8_t>(rng());
    my.assign(C, 200), mr.assign(C, 180), pairs.assign(C, 0), br.assign(C, 128);
    s8.assign(C, 8), t.assign(C, 0), mp.assign(C, 256), mn.assign(C, 64), bp.assign(C, 128);
    bn.assign(C, 128), pack_t.assign(C, 0);
    for (int c = 0; c < C; ++c) pairs[c] = (my[c] & 0xffff) | (mr[c] << 16);
    rt.r = r.data(), rt.my = my.data(), rt.mr = mr.data(), rt.pairs = pairs.data();
    rt.br = br.data(), rt.s = s8.data(), rt.pwl = pwl;
    rt.t = t.data(), rt.mp = mp.data(), rt.mn = mn.data(), rt.bp = bp.data(), rt.bn = bn.data();
    rt.ps = s8.data(), rt.bits = bits.data(), rt.pack_t = pack_t.data();
    const auto no_post = [](const void*, void*, size_t, size_t) {
      std::fprintf(stderr, "the tail took the post pass\n");
      std::exit(1);
    };
    ep.tail = &rt;
    ep.post = {+no_post, nullptr};
    table = make_tail_table(ep, C, rt);
    rt.table = table.data();
  }
};

}  // namespace bnnflow::bench
