// The AVX-512 glue kernel sources compiled a second time against SIMDe's portable AVX-512
// (BNNFLOW_SIMDE_AVX512: symbols in namespace avx512_simde), so they are checked against the
// scalar twins on any machine, with or without AVX-512 VNNI.
#define BNNFLOW_SIMDE_AVX512 1
#include "kernels/add/add_avx512_c16.cc"
#include "kernels/conv_int8/conv_int8_avx512_6x64.cc"
#include "kernels/dense_int8/dense_int8_avx512_4x64.cc"
#include "kernels/dwconv_int8/dwconv_int8_avx512_c16.cc"
#include "kernels/glue_f32/glue_f32_avx512_4x32.cc"
#include "kernels/pool/pool_avx512_c16.cc"
#include "kernels/pwl/pwl_avx512_c16.cc"
#include "kernels/requant/requant_avx512_c16.cc"
#include "glue_checks.h"

using namespace glue_test;

int main() {
  Counts cnt;
  check_all(GLUE_KERNELS(bnnflow::glue::avx512_simde), GLUE_KERNELS(bnnflow::glue::scalar), cnt, 5);
  std::printf("%d passed, %d failed\n", cnt.passed, cnt.failed);
  return cnt.failed == 0 ? 0 : 1;
}
