// Driver of the fuzz entry without libFuzzer (any compiler, e.g. g++ with ASan + UBSan):
// replays files / folders of .bnn inputs through LLVMFuzzerTestOneInput and, with
// --mutations N, also N structure-aware mutants of them (chains of 8 mutations, each chain
// from the next file in turn, mutator.h), from a fixed --seed so the run is reproducible.
//
//   bnnflow_fuzz_replay [--mutations N] [--seed S] PATH...
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" void bnnflow_fuzz_counts(long* loaded, long* ran);

namespace {

std::mt19937 g_raw_rng(1);

// Fallback byte mutation: overwrite, insert or erase a few bytes.
size_t raw_mutate(uint8_t* data, size_t size, size_t max_size) {
  for (int k = 0, n = 1 + static_cast<int>(g_raw_rng() % 4); k < n; ++k) {
    const unsigned op = g_raw_rng() % 3;
    if (op == 0 && size > 0) {
      data[g_raw_rng() % size] = static_cast<uint8_t>(g_raw_rng());
    } else if (op == 1 && size < max_size) {
      const size_t at = g_raw_rng() % (size + 1);
      std::memmove(data + at + 1, data + at, size - at);
      data[at] = static_cast<uint8_t>(g_raw_rng());
      ++size;
    } else if (size > 0) {
      const size_t at = g_raw_rng() % size;
      std::memmove(data + at, data + at + 1, size - at - 1);
      --size;
    }
  }
  return size;
}

std::vector<uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  unsigned seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
      mutations = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = static_cast<unsigned>(std::atol(argv[++i]));
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& e : std::filesystem::directory_iterator(argv[i])) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(argv[i])) {
      files.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "bnnflow_fuzz_replay: no file or folder %s\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--mutations N] [--seed S] PATH...\n", argv[0]);
    return 2;
  }
  g_raw_rng.seed(seed);
  std::mt19937 rng(seed);
  const auto t0 = std::chrono::steady_clock::now();
  long execs = 0;
  constexpr size_t kMax = size_t{1} << 20;
  std::vector<uint8_t> buf(kMax);
  std::vector<std::vector<uint8_t>> inputs;
  for (const auto& path : files) {
    inputs.push_back(read_all(path));
    LLVMFuzzerTestOneInput(inputs.back().data(), inputs.back().size());
    ++execs;
  }
  // Mutants: chains of up to 8 mutations, each chain from the next file in turn.
  size_t size = 0;
  for (long k = 0; k < mutations; ++k) {
    const std::vector<uint8_t>& in = inputs[static_cast<size_t>(k / 8) % inputs.size()];
    if (in.size() > kMax) continue;
    if (k % 8 == 0) {
      std::memcpy(buf.data(), in.data(), in.size());
      size = in.size();
    }
    size = bnnflow_fuzz::mutate_bnn(buf.data(), size, kMax, rng(), raw_mutate);
    std::vector<uint8_t> exact(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(size));
    LLVMFuzzerTestOneInput(exact.data(), exact.size());
    ++execs;
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long loaded = 0, ran = 0;
  bnnflow_fuzz_counts(&loaded, &ran);
  std::printf("bnnflow_fuzz_replay: %zu files, %ld executions (%ld loaded, %ld ran) in %.1f s, "
              "no failure\n", files.size(), execs, loaded, ran, s);
  return 0;
}
