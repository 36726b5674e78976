// avx512 float32 glue: scale_bias, dequant, dense_f32 and the direct
// conv2d_f32 with a 4-pixel x 2-vector register tile (glue_f32_impl.h).
#include "kernels/common/vec_avx512.h"
#include "kernels/glue_f32/glue_f32_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

BNNFLOW_DEFINE_GLUE_F32_KERNELS(Vec, 4, 2)

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
