// neon pooling kernels, from the generic kernels of pool_impl.h (channels across lanes).
#include "kernels/glue_common/vec_neon.h"
#include "kernels/glue_common/pool_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

void maxpool_int8(const MaxPoolInt8Args& a, ThreadPool* pool) { maxpool_int8_impl<Vec>(a, pool); }
void sumpool_int8(const SumPoolInt8Args& a, ThreadPool* pool) { sumpool_int8_impl<Vec>(a, pool); }
void maxpool_f32(const MaxPoolF32Args& a, ThreadPool* pool) { maxpool_f32_impl<Vec>(a, pool); }
void avgpool_f32(const AvgPoolF32Args& a, ThreadPool* pool) { avgpool_f32_impl<Vec>(a, pool); }
void global_sumpool_int8(const GlobalSumPoolInt8Args& a, ThreadPool* pool) {
  global_sumpool_int8_impl<Vec>(a, pool);
}
void global_avgpool_f32(const GlobalAvgPoolF32Args& a, ThreadPool* pool) {
  global_avgpool_f32_impl<Vec>(a, pool);
}

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
