// neon pooling kernels, from the generic kernels of pool_impl.h (channels across lanes).
#include "kernels/common/vec_neon.h"
#include "kernels/pool/pool_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

BNNFLOW_DEFINE_POOL_KERNELS(Vec)

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
