// neon sigmoid_f32 and mul_f32 (4 float32 lanes), from the generic kernels of gate_impl.h.
#include "kernels/common/vec_neon.h"
#include "kernels/gate/gate_impl.h"

namespace bnnflow::glue::BNNFLOW_NEON_NS {

void sigmoid_f32(const SigmoidF32Args& a, ThreadPool* pool) { sigmoid_f32_loop(a, pool); }
void mul_f32(const MulF32Args& a, ThreadPool* pool) { mul_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_NEON_NS
