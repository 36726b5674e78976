// The AVX-512 gate kernel source compiled a second time against SIMDe's portable AVX-512
// (BNNFLOW_SIMDE_AVX512: symbols in namespace avx512_simde) and checked against the scalar twins on
// the build machine (gate_checks.h).
#define BNNFLOW_SIMDE_AVX512 1
#include "kernels/gate/gate_avx512_c16.cc"
#include "gate_checks.h"

using namespace gate_test;

int main() {
  Counts cnt;
  check_isa(GATE_KERNELS(bnnflow::glue::avx512_simde), GATE_KERNELS(bnnflow::glue::scalar), cnt, 5);
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
