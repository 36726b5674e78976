// The AVX-512 kernels compiled a second time against SIMDe's portable AVX-512 (namespace
// bnnflow::avx512_simde), so the C++ tests check them on CPUs without AVX-512.
#define BNNFLOW_SIMDE_AVX512 1
#include "kernels/bconv/bconv_avx512_6x64.cc"
#include "kernels/bconv/bconv_epilogue_avx512_16.cc"
#include "kernels/maxpool_packed/maxpool_packed_avx512_16w.cc"
#include "kernels/pack/pack_avx512_32.cc"
