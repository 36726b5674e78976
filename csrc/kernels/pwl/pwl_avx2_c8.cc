// avx2 pwl_int8 and pwl_f32 (8 int32 / float32 lanes), from the generic kernels of pwl_impl.h.
#include "kernels/common/vec_avx2.h"
#include "kernels/pwl/pwl_impl.h"

namespace bnnflow::glue::avx2 {

void pwl_int8(const PwlInt8Args& a, ThreadPool* pool) { pwl_int8_impl<Vec>(a, pool); }
void pwl_f32(const PwlF32Args& a, ThreadPool* pool) { pwl_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::avx2
