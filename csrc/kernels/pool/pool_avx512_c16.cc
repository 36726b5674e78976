// avx512 pooling kernels, from the generic kernels of pool_impl.h (channels across lanes).
#include "kernels/common/vec_avx512.h"
#include "kernels/pool/pool_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

BNNFLOW_DEFINE_POOL_KERNELS(Vec)

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
