// The gate kernels (kernels/gate: sigmoid_f32, mul_f32) of every native ISA this CPU runs
// against the scalar twins, and the scalar twins against the formulas (gate_checks.h); the
// AVX-512 and NEON sources are also checked through SIMDe (test_gate_*_simde.cc).
#include "common/cpu_features.h"
#include "gate_checks.h"

using namespace gate_test;

int main() {
  Counts cnt;
  const GateKernels scalar = GATE_KERNELS(bnnflow::glue::scalar);
  check_formulas(cnt);
  check_isa(scalar, scalar, cnt, 1);  // threaded scalar == single-threaded scalar
#if defined(__x86_64__)
  if (bnnflow::isa_supported(bnnflow::Isa::kAvx2)) check_isa(GATE_KERNELS(bnnflow::glue::avx2), scalar, cnt, 2);
  if (bnnflow::isa_supported(bnnflow::Isa::kAvx512)) {
    check_isa(GATE_KERNELS(bnnflow::glue::avx512), scalar, cnt, 3);
  }
#endif
#if defined(__aarch64__)
  check_isa(GATE_KERNELS(bnnflow::glue::neon), scalar, cnt, 4);
#endif
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
