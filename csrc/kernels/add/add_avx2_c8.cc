// avx2 add_int8 and add_f32 (8 int32 / float32 lanes), from the generic kernels of eltwise_impl.h.
#include "kernels/glue_common/vec_avx2.h"
#include "kernels/glue_common/eltwise_impl.h"

namespace bnnflow::glue::avx2 {

void add_int8(const AddInt8Args& a, ThreadPool* pool) { add_int8_impl<Vec>(a, pool); }
void add_f32(const AddF32Args& a, ThreadPool* pool) { add_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::avx2
