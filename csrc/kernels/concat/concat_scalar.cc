// concat along channels: one memcpy per input row segment, split over rows.
#include "kernels/concat/concat.h"

namespace bnnflow::glue {

void concat(const ConcatArgs& a, ThreadPool* pool) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < a.count; ++i) total += a.widths[i];
  const std::size_t row_bytes = total * a.elem_size;
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      char* y = static_cast<char*>(a.y) + r * row_bytes;
      for (std::size_t i = 0; i < a.count; ++i) {
        const std::size_t bytes = a.widths[i] * a.elem_size;
        if (bytes > 0) std::memcpy(y, static_cast<const char*>(a.xs[i]) + r * bytes, bytes);
        y += bytes;
      }
    }
  });
}

}  // namespace bnnflow::glue
