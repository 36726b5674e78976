// Every native optimized glue kernel set this CPU can run (AVX2, AVX-512, NEON) against the
// scalar twins; also the threaded scalar kernels against single-threaded ones, and concat.
#include "glue_checks.h"
#include "measure/mac_peak.h"

using namespace glue_test;

namespace {

void check_concat(Counts& cnt) {
  Rng r(99);
  for (int threads : {1, 3}) {
    bnnflow::ThreadPool pool(threads);
    for (int iter = 0; iter < 30; ++iter) {
      const std::size_t rows = r.uniform(1, 50), count = r.uniform(1, 4);
      std::vector<std::vector<float>> xs(count);
      std::vector<const void*> ptrs;
      std::vector<std::size_t> widths;
      std::size_t total = 0;
      for (auto& x : xs) {
        widths.push_back(r.uniform(0, 40));
        total += widths.back();
        x = r.floats(rows * widths.back());
        ptrs.push_back(x.data());
      }
      std::vector<float> got(rows * total), want(rows * total);
      for (std::size_t row = 0, off = 0; row < rows; ++row, off = 0) {
        for (std::size_t i = 0; i < count; ++i) {
          for (std::size_t c = 0; c < widths[i]; ++c) want[row * total + off + c] = xs[i][row * widths[i] + c];
          off += widths[i];
        }
      }
      bnnflow::glue::ConcatArgs a{ptrs.data(), widths.data(), count, got.data(), rows, sizeof(float)};
      bnnflow::glue::concat(a, &pool);
      record(cnt, "concat threads=" + std::to_string(threads), got, want);
    }
  }
}

// The peak loops run and count their MACs: iterations x 10 chains x MACs per instruction.
void check_mac_peak(Counts& cnt, std::uint64_t (*fn)(std::uint64_t, std::int32_t*), std::uint64_t per_chain,
                    const char* name) {
  std::int32_t sink = 0;
  const std::uint64_t macs = fn(1000, &sink);
  record(cnt, std::string("mac_peak_loop ") + name, std::vector<std::uint64_t>{macs},
         std::vector<std::uint64_t>{1000 * 10 * per_chain});
}

}  // namespace

int main() {
  Counts cnt;
  const Kernels scalar = GLUE_KERNELS(bnnflow::glue::scalar);
  check_all(scalar, scalar, cnt, 1);  // threaded scalar == single-threaded scalar
#if defined(__x86_64__)
  if (bnnflow::isa_supported(bnnflow::Isa::kAvx2)) {
    check_all(GLUE_KERNELS(bnnflow::glue::avx2), scalar, cnt, 2);
    check_mac_peak(cnt, &bnnflow::glue::avx2::mac_peak_loop, 16, "avx2");
  }
  if (bnnflow::isa_supported(bnnflow::Isa::kAvx512)) {
    check_all(GLUE_KERNELS(bnnflow::glue::avx512), scalar, cnt, 3);
    check_mac_peak(cnt, &bnnflow::glue::avx512::mac_peak_loop, 64, "avx512");
  } else {
    std::printf("note: no AVX-512 VNNI on this CPU; see test_glue_avx512_simde\n");
  }
#endif
#if defined(__aarch64__)
  check_all(GLUE_KERNELS(bnnflow::glue::neon), scalar, cnt, 4);
  check_mac_peak(cnt, &bnnflow::glue::neon::mac_peak_loop, 4, "neon");
#endif
  check_concat(cnt);
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
