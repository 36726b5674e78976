// Per-ISA micro-kernel tables of the binary convolution (one namespace per ISA; for the C++
// tests the AVX-512 sources are also built against SIMDe into bnnflow::avx512_simde, and the
// NEON sources into bnnflow::neon_simde).
#pragma once
#include "kernels/bconv/bconv.h"

namespace bnnflow {
namespace scalar {
const BconvMicrokernel* bconv_microkernel(int cout_g);
}
namespace avx2 {
const BconvMicrokernel* bconv_microkernel(int cout_g);
}
namespace avx512 {
const BconvMicrokernel* bconv_microkernel(int cout_g);
}
namespace avx512_simde {
const BconvMicrokernel* bconv_microkernel(int cout_g);
}
namespace neon {
const BconvMicrokernel* bconv_microkernel(int cout_g);
}
namespace neon_simde {
const BconvMicrokernel* bconv_microkernel(int cout_g);
}
}  // namespace bnnflow
