// neon dwconv2d_int8 from the generic kernel of dwconv_impl.h (output channels across lanes).
#include "kernels/glue_common/vec_neon.h"
#include "kernels/glue_common/dwconv_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool) { dwconv2d_int8_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
