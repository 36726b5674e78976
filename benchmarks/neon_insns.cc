// Instructions per bconv2d call under qemu-aarch64: NEON fused epilogue vs tile epilogue vs
// portable (same binary; docs/performance.md). Usage: neon_insns MODE CALLS KIND, MODE 0 =
// portable, 1 = fused, 2 = NEON tile epilogue only; KIND = the EpilogueKind value.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "kernels/bconv/bconv.h"
#include "kernels/bconv/bconv_isa.h"
using namespace bnnflow;
int main(int argc, char** argv) {
  const int mode = std::atoi(argv[1]);
  const int calls = std::atoi(argv[2]);
  const int kindi = std::atoi(argv[3]);
  const int H = 14, C = 128, K = 3;
  std::mt19937 rng(1);
  std::vector<uint32_t> x(H * H * C / 32), w(C * K * K * C / 32);
  for (auto& v : x) v = rng();
  for (auto& v : w) v = rng();
  BconvMicrokernel mk = *neon::bconv_microkernel(C);
  if (mode == 0) mk.finish = nullptr;
  if (mode != 1) mk.run_many_finish = nullptr;
  BconvWeights W = prepare_bconv_weights(w.data(), C, K, K, C, 1, &mk);
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
}
