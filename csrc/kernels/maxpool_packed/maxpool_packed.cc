#include "kernels/maxpool_packed/maxpool_packed.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/isa_dispatch.h"
#include "kernels/bconv/bconv.h"

namespace bnnflow {

AndWordsFn maxpool_packed_kernel(Isa isa) {
  return BNNFLOW_ISA_PICK(isa, ::bnnflow, maxpool_packed_kernel)();
}

void maxpool_packed_with(const uint32_t* x, const PoolGeometry& g, uint32_t* out,
                         AndWordsFn kernel, ThreadPool& pool) {
  const bool rows_ok = g.pad_top >= 0 && g.pad_bottom >= 0 && g.pad_top < g.kh && g.pad_bottom < g.kh;
  const bool cols_ok = g.pad_left >= 0 && g.pad_right >= 0 && g.pad_left < g.kw && g.pad_right < g.kw;
  if (g.kh < 1 || g.kw < 1 || g.stride < 1 || !rows_ok || !cols_ok) {
    throw std::invalid_argument("maxpool_packed: need kernel >= 1, stride >= 1, 0 <= pad < kernel");
  }
  const int ho = conv_out_size(g.h, g.kh, g.stride, g.pad_top, g.pad_bottom);
  const int wo = conv_out_size(g.w, g.kw, g.stride, g.pad_left, g.pad_right);
  if (ho <= 0 || wo <= 0 || g.n <= 0) return;
  const size_t rows = static_cast<size_t>(g.n) * ho;
  const size_t words = g.words;
  pool.parallel_for(rows, [&](size_t row) {
    const int n = static_cast<int>(row / ho), oy = static_cast<int>(row % ho);
    const int y0 = std::max(0, oy * g.stride - g.pad_top);
    const int y1 = std::min(g.h, oy * g.stride - g.pad_top + g.kh);
    for (int ox = 0; ox < wo; ++ox) {
      const int x0 = std::max(0, ox * g.stride - g.pad_left);
      const int x1 = std::min(g.w, ox * g.stride - g.pad_left + g.kw);
      uint32_t* acc = out + (row * wo + ox) * words;
      const uint32_t* first = x + ((static_cast<size_t>(n) * g.h + y0) * g.w + x0) * words;
      std::memcpy(acc, first, words * sizeof(uint32_t));
      for (int iy = y0; iy < y1; ++iy) {
        for (int ix = (iy == y0 ? x0 + 1 : x0); ix < x1; ++ix) {
          kernel(acc, x + ((static_cast<size_t>(n) * g.h + iy) * g.w + ix) * words, g.words);
        }
      }
    }
  });
}

void maxpool_packed(const uint32_t* x, const PoolGeometry& geo, uint32_t* out, Isa isa,
                    ThreadPool& pool) {
  maxpool_packed_with(x, geo, out, maxpool_packed_kernel(isa), pool);
}

}  // namespace bnnflow
