// Every native optimized glue kernel set this CPU can run (AVX2, AVX-512, NEON) against the
// scalar twins; also the threaded scalar kernels against single-threaded ones, and concat.
#include "glue_checks.h"

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

}  // namespace

int main() {
  Counts cnt;
  const Kernels scalar = GLUE_KERNELS(bnnflow::glue::scalar);
  check_all(scalar, scalar, cnt, 1);  // threaded scalar == single-threaded scalar
#if defined(__x86_64__)
  if (bnnflow::isa_supported(bnnflow::Isa::kAvx2)) check_all(GLUE_KERNELS(bnnflow::glue::avx2), scalar, cnt, 2);
  if (bnnflow::isa_supported(bnnflow::Isa::kAvx512)) {
    check_all(GLUE_KERNELS(bnnflow::glue::avx512), scalar, cnt, 3);
  } else {
    std::printf("note: no AVX-512 VNNI on this CPU; see test_glue_avx512_simde\n");
  }
#endif
#if defined(__aarch64__)
  check_all(GLUE_KERNELS(bnnflow::glue::neon), scalar, cnt, 4);
#endif
  check_concat(cnt);
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
