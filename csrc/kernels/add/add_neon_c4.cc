// neon add_int8 and add_f32 (4 int32 / float32 lanes), from the generic kernels of add_impl.h.
#include "kernels/common/vec_neon.h"
#include "kernels/add/add_impl.h"
#include "kernels/add/residual_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

void add_int8(const AddInt8Args& a, ThreadPool* pool) { add_int8_impl<Vec>(a, pool); }
void add_f32(const AddF32Args& a, ThreadPool* pool) { add_f32_impl<Vec>(a, pool); }

void residual_rows(const ResidualArgs& a) { residual_rows_generic<Vec>(a); }

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
