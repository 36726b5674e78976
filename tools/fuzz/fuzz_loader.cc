// Fuzzing the native loader: every input is either refused with an engine::Error or loads into
// a model that runs; anything else (a crash, a sanitizer report, another exception) is a bug.
//
// Two drivers over one target (LLVMFuzzerTestOneInput):
//  - libFuzzer (clang): build with -DBNNFLOW_FUZZ_LIBFUZZER=ON (adds -fsanitize=fuzzer) and run
//    `bnnflow-fuzz-loader CORPUS_DIR tests/cpp/engine/data/*.bnn`;
//  - a built-in mutation loop (any compiler, the default): `bnnflow-fuzz-loader --runs N
//    [--seconds S] [--seed K] SEED.bnn...` mutates the seed files (byte flips, overwrites of
//    header bytes, numbers in the JSON replaced by edge values, truncations, insertions,
//    deletions) and prints executions / loaded / refused. Build it with
//    -DBNNFLOW_SANITIZE=address,undefined so memory errors and UB abort the run.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/model.h"

namespace e = bnnflow::engine;

namespace {
std::size_t g_loaded = 0, g_refused = 0;

// Loads `data`; runs the model once on deterministic input when it is small enough.
void one_input(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<e::Model> m;
  try {
    m = e::Model::from_buffer(data, size, {});
  } catch (const e::Error& err) {
    if (std::strlen(err.what()) == 0) std::abort();  // every refusal says why
    ++g_refused;
    return;
  }
  ++g_loaded;
  const std::size_t in_bytes = m->input_bytes(1);
  if (in_bytes > (1u << 20) || m->arena_bytes_per_sample() > (64u << 20)) return;
  std::vector<std::uint8_t> x(in_bytes);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(i * 37 + 11);
  if (m->input_info().dtype == e::ActDType::kFloat32) {
    float* f = reinterpret_cast<float*>(x.data());
    for (std::size_t i = 0; i < in_bytes / 4; ++i) f[i] = static_cast<float>(i % 7) - 3.0f;
  }
  std::vector<float> y(m->output_bytes(1) / 4);
  m->run(x.data(), 1, y.data());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  one_input(data, size);  // an exception other than engine::Error escapes: std::terminate
  return 0;
}

#ifndef BNNFLOW_FUZZ_LIBFUZZER
namespace {

std::vector<std::uint8_t> read(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(2);
  }
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Replaces a random run of digits (a number of the JSON header) by an edge value.
void mutate_number(std::vector<std::uint8_t>& d, std::mt19937_64& rng, std::size_t header_end) {
  static const char* edges[] = {"0", "-1", "1", "2", "31", "32", "63", "64", "65",
                                "255", "256", "65535", "65536", "2147483647",
                                "2147483648", "-2147483649", "4294967296",
                                "9223372036854775807", "18446744073709551616", "1e400",
                                "0.5", "null", "true", "[]", "{}", "\"\""};
  if (header_end <= 9) return;
  std::size_t i = 8 + rng() % (header_end - 8);
  while (i < header_end && !(d[i] >= '0' && d[i] <= '9')) ++i;
  std::size_t j = i;
  while (j < header_end && d[j] >= '0' && d[j] <= '9') ++j;
  if (i >= header_end) return;
  const char* v = edges[rng() % (sizeof edges / sizeof *edges)];
  d.erase(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j));
  d.insert(d.begin() + static_cast<std::ptrdiff_t>(i), v, v + std::strlen(v));
  // keep the header length field consistent half of the time
  if (rng() % 2) {
    const std::uint64_t n = header_end - 8 + std::strlen(v) - (j - i);
    for (int b = 0; b < 8; ++b) d[b] = static_cast<std::uint8_t>(n >> (8 * b));
  }
}

std::vector<std::uint8_t> mutate(const std::vector<std::uint8_t>& seed, std::mt19937_64& rng) {
  std::vector<std::uint8_t> d = seed;
  const int count = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < count && !d.empty(); ++k) {
    std::uint64_t n = 0;  // the header's end in the bytes as mutated so far
    for (int b = 7; b >= 0 && d.size() >= 8; --b) n = (n << 8) | d[static_cast<std::size_t>(b)];
    const std::size_t header_end =
        d.size() >= 8 && n + 8 <= d.size() ? static_cast<std::size_t>(n + 8) : d.size();
    switch (rng() % 6) {
      case 0: d[rng() % d.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255); break;
      case 1:  // a byte of the JSON header
        d[(8 + rng() % (header_end > 8 ? header_end - 8 : 1)) % d.size()] =
            static_cast<std::uint8_t>(rng());
        break;
      case 2: mutate_number(d, rng, header_end); break;
      case 3: d.resize(rng() % d.size()); break;
      case 4: d.insert(d.begin() + static_cast<std::ptrdiff_t>(rng() % d.size()),
                       static_cast<std::uint8_t>(rng())); break;
      default: d.erase(d.begin() + static_cast<std::ptrdiff_t>(rng() % d.size())); break;
    }
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 10000;
  double seconds = 0;
  unsigned long long seed = 1;
  std::vector<std::vector<std::uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atol(argv[++i]);
    else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else seeds.push_back(read(argv[i]));
  }
  if (seeds.empty()) {
    std::fprintf(stderr, "usage: %s [--runs N] [--seconds S] [--seed K] SEED.bnn...\n", argv[0]);
    return 2;
  }
  std::mt19937_64 rng(seed);
  const auto t0 = std::chrono::steady_clock::now();
  long done = 0;
  for (const auto& s : seeds) {  // the seeds themselves must load
    one_input(s.data(), s.size());
    ++done;
  }
  if (g_refused) {
    std::fprintf(stderr, "a seed file was refused\n");
    return 1;
  }
  for (; seconds > 0 || done < runs; ++done) {
    if (seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds) {
      break;
    }
    const auto d = mutate(seeds[rng() % seeds.size()], rng);
    one_input(d.data(), d.size());
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("executions: %ld in %.1f s (%.0f/s), loaded and ran: %zu, refused: %zu, crashes: 0\n",
              done, dt, done / (dt > 0 ? dt : 1), g_loaded, g_refused);
  return 0;
}
#endif
