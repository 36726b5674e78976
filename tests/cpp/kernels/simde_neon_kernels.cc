// The NEON binary-convolution kernels (micro-kernels with their fused epilogue, and the tile
// epilogue) compiled a second time against SIMDe's portable NEON (namespace
// bnnflow::neon_simde), so the C++ tests check them on x86 without qemu-aarch64 too.
#define BNNFLOW_SIMDE_NEON 1
#include "kernels/bconv/bconv_neon_4x16.cc"
#include "kernels/bconv/bconv_epilogue_neon_16.cc"
