// dense_int8 (docs/numerics.md §5): acc[n,o] = bias[o] + sum_c w[o,c]*x[n,c],
// x int8 [N, Cin], w int8 [Cout, Cin], int32 out (wrapping int32 accumulation on every ISA).
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct DenseInt8Args {
  const std::int8_t* x;      // [N, Cin]
  const std::int8_t* w;      // [Cout, Cin]
  const std::int32_t* bias;  // [Cout]
  std::int32_t* y;           // [N, Cout]
  std::size_t N, Cin, Cout;
};

#define BNNFLOW_GLUE_DENSE_INT8_KERNELS void dense_int8(const DenseInt8Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_DENSE_INT8_KERNELS)

// Work units of the dense kernels: (row n, block of kDenseBlock outputs).
constexpr std::size_t kDenseBlock = 16;

}  // namespace bnnflow::glue
