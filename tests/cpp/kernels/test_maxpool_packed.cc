// Every optimized packed max-pool kernel against its scalar twin and the definition (AND over
// the in-image taps), random shapes, 1 and 2 threads.
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/bconv/bconv.h"
#include "kernels/maxpool_packed/maxpool_packed.h"

using namespace bnnflow;
using test::uniform;

int main() {
  test::Tally tally;
  ThreadPool one(1), two(2);
  ThreadPool* pools[2] = {&one, &two};
  std::vector<std::pair<std::string, AndWordsFn>> kernels;
  for (Isa isa : test::optimized_isas()) kernels.emplace_back(isa_name(isa), maxpool_packed_kernel(isa));
#if defined(BNNFLOW_HAVE_SIMDE_AVX512)
  kernels.emplace_back("avx512-simde", avx512_simde::maxpool_packed_kernel());
#endif
  std::mt19937 rng(5);
  for (int i = 0; i < 150; ++i) {
    PoolGeometry g;
    g.n = uniform(rng, 1, 3);
    g.kh = g.kw = uniform(rng, 1, 4);
    g.h = uniform(rng, g.kh, 12);
    g.w = uniform(rng, g.kw, 12);
    g.words = uniform(rng, 1, 40);
    g.stride = uniform(rng, 1, 3);
    // every side its own padding (TF "same" is asymmetric), each below the kernel
    g.pad_top = uniform(rng, 0, g.kh - 1);
    g.pad_left = uniform(rng, 0, g.kw - 1);
    g.pad_bottom = i % 3 == 0 ? g.pad_top : uniform(rng, 0, g.kh - 1);
    g.pad_right = i % 3 == 0 ? g.pad_left : uniform(rng, 0, g.kw - 1);
    const std::string what = "n=" + std::to_string(g.n) + " " + std::to_string(g.h) + "x" +
                             std::to_string(g.w) + " words=" + std::to_string(g.words) +
                             " k=" + std::to_string(g.kh) + " s=" + std::to_string(g.stride) +
                             " p=[" + std::to_string(g.pad_top) + "," +
                             std::to_string(g.pad_left) + "," + std::to_string(g.pad_bottom) +
                             "," + std::to_string(g.pad_right) + "]";
    std::vector<uint32_t> x(static_cast<size_t>(g.n) * g.h * g.w * g.words);
    for (auto& v : x) v = rng() | rng();
    const int ho = conv_out_size(g.h, g.kh, g.stride, g.pad_top, g.pad_bottom);
    const int wo = conv_out_size(g.w, g.kw, g.stride, g.pad_left, g.pad_right);
    std::vector<uint32_t> want(static_cast<size_t>(g.n) * ho * wo * g.words, ~0u);
    for (int b = 0; b < g.n; ++b)
      for (int oy = 0; oy < ho; ++oy)
        for (int ox = 0; ox < wo; ++ox)
          for (int i = 0; i < g.kh; ++i)
            for (int j = 0; j < g.kw; ++j) {
              const int iy = oy * g.stride - g.pad_top + i, ix = ox * g.stride - g.pad_left + j;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              for (int k = 0; k < g.words; ++k) {
                want[((static_cast<size_t>(b) * ho + oy) * wo + ox) * g.words + k] &=
                    x[((static_cast<size_t>(b) * g.h + iy) * g.w + ix) * g.words + k];
              }
            }
    // got starts as ~want before every run: a word a kernel leaves unwritten fails
    std::vector<uint32_t> got(want.size());
    const auto unlike_want = [&] {
      for (size_t i = 0; i < got.size(); ++i) got[i] = ~want[i];
    };
    unlike_want();
    maxpool_packed(x.data(), g, got.data(), Isa::kScalar, one);
    tally.check(got == want, "scalar " + what);
    for (const auto& [name, fn] : kernels) {
      for (int t = 0; t < 2; ++t) {
        unlike_want();
        maxpool_packed_with(x.data(), g, got.data(), fn, *pools[t]);
        tally.check(got == want, name + " threads " + std::to_string(t + 1) + " " + what);
      }
    }
  }
  return tally.finish();
}
