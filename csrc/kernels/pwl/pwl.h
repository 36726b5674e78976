// Per-channel piecewise-linear activation (PReLU, RPReLU, two-sided PReLU, ReLU, rescale),
// docs/numerics.md §3 and §5:
//   pwl_int8 : v = q >= t[c] ? Mp[c]*q + Bp[c] : Mn[c]*q + Bn[c];  y = saturate(rshift_round(v, s[c]))
//   pwl_f32  : y = x >= t[c] ? kp[c]*x + bp[c] : kn[c]*x + bn[c]
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct PwlInt8Args {
  const std::int8_t* x;
  std::int8_t* y;
  std::size_t rows, channels;
  const std::int32_t* t;
  const std::int16_t* Mp;
  const std::int32_t* Bp;
  const std::int16_t* Mn;
  const std::int32_t* Bn;
  const std::int32_t* s;  // 0..30
};

struct PwlF32Args {
  const float* x;
  float* y;
  std::size_t rows, channels;
  const float* t;
  const float* kp;
  const float* bp;
  const float* kn;
  const float* bn;
};

#define BNNFLOW_GLUE_PWL_KERNELS                        \
  void pwl_int8(const PwlInt8Args& a, ThreadPool* pool); \
  void pwl_f32(const PwlF32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_PWL_KERNELS)

}  // namespace bnnflow::glue
