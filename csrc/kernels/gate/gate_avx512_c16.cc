// avx512 sigmoid_f32 and mul_f32 (16 float32 lanes), from the generic kernels of gate_impl.h.
#include "kernels/common/vec_avx512.h"
#include "kernels/gate/gate_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

void sigmoid_f32(const SigmoidF32Args& a, ThreadPool* pool) { sigmoid_f32_loop(a, pool); }
void mul_f32(const MulF32Args& a, ThreadPool* pool) { mul_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
