// concat along channels (docs/numerics.md §5), int8 or float32: y[r, off_i + c] = x_i[r, c]
// for every input i, off_i the sum of the preceding inputs' channel counts. A pure copy; the
// same kernel (row-wise memcpy, which the C library already vectorises) serves every ISA.
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct ConcatArgs {
  const void* const* xs;        // count inputs, each [rows, widths[i]] elements
  const std::size_t* widths;    // channels per input
  std::size_t count;
  void* y;                      // [rows, sum(widths)]
  std::size_t rows;
  std::size_t elem_size;        // bytes per element: 1 (int8) or 4 (float32)
};

void concat(const ConcatArgs& a, ThreadPool* pool);

}  // namespace bnnflow::glue
