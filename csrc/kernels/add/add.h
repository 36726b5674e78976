// Residual adds (docs/numerics.md §3, §5):
//   add_int8 : y = saturate(rshift_round(Ma[c]*a + Mb[c]*b + B[c], s[c]))  int32 math
//   add_f32  : y = a + b
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct AddInt8Args {
  const std::int8_t* a;
  const std::int8_t* b;
  std::int8_t* y;
  std::size_t rows, channels;
  const std::int16_t* Ma;
  const std::int16_t* Mb;
  const std::int32_t* B;
  const std::int32_t* s;  // 0..30
};

struct AddF32Args {
  const float* a;
  const float* b;
  float* y;
  std::size_t size;
};

#define BNNFLOW_GLUE_ADD_KERNELS                        \
  void add_int8(const AddInt8Args& a, ThreadPool* pool); \
  void add_f32(const AddF32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_ADD_KERNELS)

}  // namespace bnnflow::glue
