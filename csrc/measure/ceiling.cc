#include "measure/ceiling.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "common/isa_dispatch.h"

namespace bnnflow {

namespace {
std::vector<CeilingKernel> to_vector(CeilingKernelList l) {
  return std::vector<CeilingKernel>(l.kernels, l.kernels + l.count);
}
}  // namespace

std::vector<CeilingKernel> ceiling_kernels(Isa isa) {
  return to_vector(BNNFLOW_ISA_PICK(isa, ::bnnflow, ceiling_kernels)());
}

std::vector<CeilingResult> measure_ceiling(Isa isa, size_t words, int passes, int repeats) {
  if (words < 128 || words > 8192 || words % 128 != 0) {
    throw std::invalid_argument("words must be a multiple of 128 in [128, 8192] (L1-resident)");
  }
  if (passes < 1 || repeats < 1) throw std::invalid_argument("passes and repeats must be >= 1");
  std::vector<uint32_t> buf(words);
  uint32_t s = 0x9e3779b9u;
  for (uint32_t& v : buf) v = (s = s * 1664525u + 1013904223u);
  std::vector<uint32_t> split(words);  // words/2 random words, nibble-split in blocks of 8
  for (size_t k = 0; k < words / 16; ++k) {
    for (int i = 0; i < 8; ++i) {
      split[16 * k + i] = buf[8 * k + i] & 0x0f0f0f0fu;
      split[16 * k + 8 + i] = (buf[8 * k + i] >> 4) & 0x0f0f0f0fu;
    }
  }
  std::vector<CeilingResult> out;
  for (const CeilingKernel& k : ceiling_kernels(isa)) {
    const uint32_t* data = k.split_nibbles ? split.data() : buf.data();
    uint64_t checksum = k.run(data, words, passes);  // warm-up
    std::vector<double> secs;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      checksum += k.run(data, words, passes);
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::nth_element(secs.begin(), secs.begin() + secs.size() / 2, secs.end());
    const double macs = static_cast<double>(words) * passes * k.macs_per_word;
    out.push_back({k.method, macs / secs[secs.size() / 2] / 1e9, checksum});
  }
  return out;
}

}  // namespace bnnflow
