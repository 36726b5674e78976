// Per-channel fixed-point requantization (docs/numerics.md §3):
//   requant   : y = saturate(rshift_round(M[c]*q + B[c], s[c]))  int8 -> int8, int32 math
//   requant32 : y = saturate(rshift_round(M[c]*x + B[c], s[c]))  int32 -> int8, int64 math
// Data is [rows, C] (any NHWC tensor flattened), parameters are per channel (last axis).
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct RequantArgs {
  const std::int8_t* x;
  std::int8_t* y;
  std::size_t rows, channels;
  const std::int16_t* M;
  const std::int32_t* B;
  const std::int32_t* s;  // 0..30
};

struct Requant32Args {
  const std::int32_t* x;
  std::int8_t* y;
  std::size_t rows, channels;
  const std::int32_t* M;
  const std::int64_t* B;
  const std::int32_t* s;  // 0..62
};

#define BNNFLOW_GLUE_REQUANT_KERNELS                      \
  void requant(const RequantArgs& a, ThreadPool* pool);   \
  void requant32(const Requant32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_REQUANT_KERNELS)

using RequantFn = void (*)(const RequantArgs&, ThreadPool*);
using Requant32Fn = void (*)(const Requant32Args&, ThreadPool*);

}  // namespace bnnflow::glue
