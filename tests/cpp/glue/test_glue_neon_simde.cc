// The NEON glue kernel sources compiled a second time against SIMDe's portable NEON
// (BNNFLOW_SIMDE_NEON: symbols in namespace neon_simde) and checked against the scalar
// twins on the build machine; the native NEON build runs under qemu-aarch64 as well.
#define BNNFLOW_SIMDE_NEON 1
#include "kernels/add/add_neon_c4.cc"
#include "kernels/conv_int8/conv_int8_neon_4x16.cc"
#include "kernels/dense_int8/dense_int8_neon_4x16.cc"
#include "kernels/dwconv_int8/dwconv_int8_neon_c4.cc"
#include "kernels/glue_f32/glue_f32_neon_4x16.cc"
#include "kernels/pool/pool_neon_c4.cc"
#include "kernels/pwl/pwl_neon_c4.cc"
#include "kernels/requant/requant_neon_c4.cc"
#include "glue_checks.h"

using namespace glue_test;

int main() {
  Counts cnt;
  check_all(GLUE_KERNELS(bnnflow::glue::neon_simde), GLUE_KERNELS(bnnflow::glue::scalar), cnt, 6);
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
