// Shared helpers of the binary-kernel C++ tests: the ISAs to test (every native optimized ISA
// plus, on x86 with SIMDe, the AVX-512 kernels built against SIMDe), random packed data and
// a pass/fail tally that prints "N passed, N failed".
#pragma once
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/cpu_features.h"

namespace bnnflow::test {

struct Tally {
  int passed = 0, failed = 0;
  void check(bool ok, const std::string& what) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
      if (failed <= 20) std::printf("FAILED: %s\n", what.c_str());
    }
  }
  int finish() const {
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
  }
};

// Native ISAs other than scalar.
inline std::vector<Isa> optimized_isas() {
  std::vector<Isa> out;
  for (Isa isa : supported_isas()) {
    if (isa != Isa::kScalar) out.push_back(isa);
  }
  return out;
}

// Packed words for `lead` pixels of `channels` channels in `groups` groups, pad bits 0.
inline std::vector<uint32_t> random_packed(std::mt19937& rng, size_t lead, int channels,
                                           int groups) {
  const int cg = channels / groups, wg = (cg + 31) / 32;
  std::vector<uint32_t> out(lead * groups * wg);
  for (uint32_t& v : out) v = rng();
  const uint32_t mask = cg % 32 == 0 ? ~0u : (1u << (cg % 32)) - 1u;
  for (size_t i = wg - 1; i < out.size(); i += wg) out[i] &= mask;
  return out;
}

inline int uniform(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

}  // namespace bnnflow::test
