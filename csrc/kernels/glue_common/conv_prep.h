// Input staging shared by the direct int8/float convolutions: a zero-bordered copy of the
// input, [N][H+2p][W+2p][Cin] of type T, so the KW*Cin values of one kernel row of one output
// pixel are contiguous and no tap needs a bounds check. value(i, c) maps input element i of
// channel c to T; border elements get `border(c)`.
#pragma once
#include "kernels/glue_common/glue.h"

namespace bnnflow::glue {
namespace {

template <class T, class Value, class Border>
void stage_padded(T* xp, std::size_t N, std::size_t H, std::size_t W, std::size_t C, int pad,
                  ThreadPool* pool, const Value& value, const Border& border) {
  const std::size_t Hp = H + 2 * pad, Wp = W + 2 * pad;
  parallel_ranges(pool, N * Hp, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / Hp, hp = r % Hp;
      T* row = xp + r * Wp * C;
      const bool inside_h = hp >= static_cast<std::size_t>(pad) && hp < H + pad;
      for (std::size_t wp = 0; wp < Wp; ++wp) {
        const bool inside = inside_h && wp >= static_cast<std::size_t>(pad) && wp < W + pad;
        const std::size_t xi = inside ? ((n * H + hp - pad) * W + wp - pad) * C : 0;
        for (std::size_t c = 0; c < C; ++c) row[wp * C + c] = inside ? value(xi + c, c) : border(c);
      }
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
