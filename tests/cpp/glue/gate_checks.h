// Shared checks of the gate kernels (kernels/gate: sigmoid_f32, mul_f32): one ISA's kernels
// against the scalar twins — bit for bit: mul_f32 is one float32 product per element and every
// ISA runs the scalar twin's sigmoid formula — on odd channel counts (vector tails), b of a's
// shape and b broadcast per sample over H*W, 1 and 3 threads, inputs up to about +-25; and
// the scalar twins against the formulas written out here (sigmoid within 1e-6 relative, also
// at 0 and +-400: saturation).
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/threadpool.h"
#include "glue_checks.h"
#include "kernels/gate/gate.h"

namespace gate_test {

using namespace glue_test;

struct GateKernels {
  const char* name;
  void (*sigmoid_f32)(const SigmoidF32Args&, ThreadPool*);
  void (*mul_f32)(const MulF32Args&, ThreadPool*);
};
#define GATE_KERNELS(ns) GateKernels{#ns, &ns::sigmoid_f32, &ns::mul_f32}

void check_formulas(Counts& cnt) {
  Rng r(5);
  std::vector<float> x = r.floats(257);
  x[0] = 0.0f, x[1] = 100.0f, x[2] = -100.0f, x[3] = 20.0f, x[4] = -20.0f;
  for (auto& v : x) v *= 4.0f;
  std::vector<float> got(x.size()), want(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = 1.0f / (1.0f + std::exp(-x[i]));
  bnnflow::glue::scalar::sigmoid_f32({x.data(), got.data(), x.size()}, nullptr);
  record(cnt, "scalar sigmoid_f32 vs 1/(1+exp(-x))", got, want, 1e-6);
  record(cnt, "scalar sigmoid_f32(0) = 0.5", std::vector<float>{got[0]}, std::vector<float>{0.5f});

  const std::size_t n = 2, hw = 7, C = 13;
  const auto a = r.floats(n * hw * C), b = r.floats(n * C);
  std::vector<float> y(a.size()), w(a.size());
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t p = 0; p < hw; ++p)
      for (std::size_t c = 0; c < C; ++c) w[(s * hw + p) * C + c] = a[(s * hw + p) * C + c] * b[s * C + c];
  bnnflow::glue::scalar::mul_f32({a.data(), b.data(), y.data(), n * hw, C, hw}, nullptr);
  record(cnt, "scalar mul_f32 broadcast vs a*b[n,c]", y, w);
}

void check_isa(const GateKernels& k, const GateKernels& ref, Counts& cnt, std::uint32_t seed) {
  Rng r(seed);
  for (int threads : {1, 3}) {
    bnnflow::ThreadPool pool(threads);
    for (int iter = 0; iter < 40; ++iter) {
      const std::size_t n = r.uniform(1, 3), hw = r.uniform(1, 20), C = r.uniform(1, 70);
      const bool bcast = iter % 2 == 1;
      const std::size_t rows = n * hw, every = bcast ? hw : 1;
      auto x = r.floats(rows * C);
      for (auto& v : x) v *= 6.0f;
      const auto b = r.floats(rows / every * C);
      const std::string tag = std::string(k.name) + " threads=" + std::to_string(threads) +
                              " rows=" + std::to_string(rows) + " C=" + std::to_string(C);
      std::vector<float> got(x.size()), want(x.size());
      ref.sigmoid_f32({x.data(), want.data(), x.size()}, nullptr);
      k.sigmoid_f32({x.data(), got.data(), x.size()}, &pool);
      record(cnt, "sigmoid_f32 " + tag, got, want);
      ref.mul_f32({x.data(), b.data(), want.data(), rows, C, every}, nullptr);
      k.mul_f32({x.data(), b.data(), got.data(), rows, C, every}, &pool);
      record(cnt, "mul_f32 " + tag + (bcast ? " broadcast" : ""), got, want);
    }
  }
}

}  // namespace gate_test
