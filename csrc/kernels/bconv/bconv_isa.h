// Per-ISA micro-kernel tables of the binary convolution, one per ISA of common/isa_list.h
// (and its SIMDe twins: the AVX-512 sources built against SIMDe into bnnflow::avx512_simde,
// the NEON sources into bnnflow::neon_simde, for the C++ tests).
#pragma once
#include "common/isa_list.h"
#include "kernels/bconv/bconv.h"

namespace bnnflow {
BNNFLOW_DECLARE_ISAS(const BconvMicrokernel* bconv_microkernel(int cout_g);)
}  // namespace bnnflow
