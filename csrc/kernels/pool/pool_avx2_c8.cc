// avx2 pooling kernels, from the generic kernels of pool_impl.h (channels across lanes).
#include "kernels/common/vec_avx2.h"
#include "kernels/pool/pool_impl.h"

namespace bnnflow::glue::avx2 {

BNNFLOW_DEFINE_POOL_KERNELS(Vec)

}  // namespace bnnflow::glue::avx2
