// The NEON gate kernel source compiled a second time against SIMDe's portable NEON
// (BNNFLOW_SIMDE_NEON: symbols in namespace neon_simde) and checked against the scalar twins on
// the build machine (gate_checks.h).
#define BNNFLOW_SIMDE_NEON 1
#include "kernels/gate/gate_neon_c4.cc"
#include "gate_checks.h"

using namespace gate_test;

int main() {
  Counts cnt;
  check_isa(GATE_KERNELS(bnnflow::glue::neon_simde), GATE_KERNELS(bnnflow::glue::scalar), cnt, 6);
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
