// Every optimized pack kernel (int8 and float32 input) against its scalar twin, and the scalar
// one against the definition bit = x < t, on random shapes with groups and channel counts not
// a multiple of 32, 1 and 2 threads.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pack/pack.h"

using namespace bnnflow;
using test::uniform;

namespace {

struct Candidate {
  std::string name;
  const PackKernels* kernels;
};

std::vector<Candidate> candidates() {
  std::vector<Candidate> out;
  for (Isa isa : test::optimized_isas()) out.push_back({isa_name(isa), &pack_kernels(isa)});
#if defined(BNNFLOW_HAVE_SIMDE_AVX512)
  out.push_back({"avx512-simde", &avx512_simde::pack_kernels()});
#endif
  return out;
}

template <typename T, typename Th>
std::vector<uint32_t> definition(const std::vector<T>& x, const std::vector<Th>& t, size_t pixels,
                                 int c, int groups) {
  const int cg = c / groups, wg = (cg + 31) / 32;
  std::vector<uint32_t> out(pixels * groups * wg, 0);
  for (size_t p = 0; p < pixels; ++p)
    for (int ch = 0; ch < c; ++ch) {
      const int g = ch / cg, k = ch % cg;
      if (x[p * c + ch] < t[ch]) out[(p * groups + g) * wg + k / 32] |= 1u << (k % 32);
    }
  return out;
}

template <typename T, typename Th, typename Fn>
void check(const std::vector<T>& x, const std::vector<Th>& t, size_t pixels, int c, int groups,
           Fn select, test::Tally& tally, ThreadPool* pools[2], const std::string& what) {
  const auto want = definition(x, t, pixels, c, groups);
  std::vector<uint32_t> got(want.size());
  auto run = [&](const PackKernels& k, ThreadPool& pool) {
    std::fill(got.begin(), got.end(), 0xDEADBEEFu);
    const auto fn = select(k);
    pool.parallel_for((pixels + 15) / 16, [&](size_t task) {
      fn(x.data(), t.data(), task * 16, std::min(pixels, task * 16 + 16), c, groups, got.data());
    });
    return got == want;
  };
  tally.check(run(pack_kernels(Isa::kScalar), *pools[0]), "scalar " + what);
  for (const Candidate& cand : candidates()) {
    for (int th = 0; th < 2; ++th) {
      tally.check(run(*cand.kernels, *pools[th]),
                  cand.name + " threads " + std::to_string(th + 1) + " " + what);
    }
  }
}

}  // namespace

int main() {
  test::Tally tally;
  ThreadPool one(1), two(2);
  ThreadPool* pools[2] = {&one, &two};
  std::mt19937 rng(99);
  for (int i = 0; i < 150; ++i) {
    const size_t pixels = uniform(rng, 1, 90);
    int groups = uniform(rng, 1, 4), c = groups * uniform(rng, 1, 140);
    if (i % 50 == 7) groups = uniform(rng, 1, 2), c = groups * 1056;  // > 1024 channels (AVX2: heap thresholds)
    const std::string what = "pixels=" + std::to_string(pixels) + " c=" + std::to_string(c) +
                             " groups=" + std::to_string(groups);
    std::vector<int8_t> xi(pixels * c);
    for (auto& v : xi) v = static_cast<int8_t>(uniform(rng, -128, 127));
    std::vector<int32_t> ti(c);
    for (auto& v : ti) v = uniform(rng, -300, 300);
    check(xi, ti, pixels, c, groups, [](const PackKernels& k) { return k.int8; }, tally, pools,
          "int8 " + what);
    std::vector<float> xf(pixels * c);
    for (auto& v : xf) v = static_cast<float>(uniform(rng, -1000, 1000)) / 100.f;
    std::vector<float> tf(c);
    for (auto& v : tf) v = static_cast<float>(uniform(rng, -300, 300)) / 100.f;
    for (size_t k = 0; k < xf.size(); k += 7) xf[k] = tf[k % c];  // ties
    for (size_t k = 3; k < xf.size(); k += 29) xf[k] = std::nanf("");
    check(xf, tf, pixels, c, groups, [](const PackKernels& k) { return k.f32; }, tally, pools,
          "f32 " + what);
  }
  return tally.finish();
}
