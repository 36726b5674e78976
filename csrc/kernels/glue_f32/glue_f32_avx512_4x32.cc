// avx512 float32 glue: scale_bias, dequant (eltwise_impl.h), dense_f32 and the direct
// conv2d_f32 with a 4-pixel x 2-vector register tile (f32_impl.h).
#include "kernels/glue_common/vec_avx512.h"
#include "kernels/glue_common/eltwise_impl.h"
#include "kernels/glue_common/f32_impl.h"

namespace bnnflow::glue::BNNFLOW_AVX512_NS {

void scale_bias(const ScaleBiasArgs& a, ThreadPool* pool) { scale_bias_impl<Vec>(a, pool); }
void dequant(const DequantArgs& a, ThreadPool* pool) { dequant_impl<Vec>(a, pool); }
void conv2d_f32(const Conv2dF32Args& a, ThreadPool* pool) { conv2d_f32_impl<Vec, 4, 2>(a, pool); }
std::size_t conv2d_f32_packed_bytes(const Conv2dF32Args& a) {
  return conv2d_f32_packed_bytes_impl<Vec, 2>(a);
}
void conv2d_f32_pack(const Conv2dF32Args& a, void* packed) { conv2d_f32_pack_impl<Vec, 2>(a, packed); }
void conv2d_f32_packed(const Conv2dF32Args& a, const void* packed, ThreadPool* pool) {
  conv2d_f32_packed_impl<Vec, 4, 2>(a, packed, pool);
}
void dense_f32(const DenseF32Args& a, ThreadPool* pool) { dense_f32_impl<Vec>(a, pool); }

}  // namespace bnnflow::glue::BNNFLOW_AVX512_NS
