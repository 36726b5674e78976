// Input staging shared by the direct int8/float convolutions: a zero-bordered copy of the
// input, [N][H+2p][W+2p][Cin] of type T, so the KW*Cin values of one kernel row of one output
// pixel are contiguous and no tap needs a bounds check. value(i, c) maps input element i of
// channel c to T; border elements get `border(c)`.
#pragma once
#include <type_traits>

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

// The interior of a zero-initialised padded buffer (GlueBuffer memory starts zeroed, so the
// border is already 0): xp[n][h+pad][w+pad][c] = T(x[n][h][w][c] - zp[c]); float inputs are
// copied (zp unused).
template <class T, class In>
void stage_interior(T* xp, const In* x, const std::int32_t* zp, std::size_t N, std::size_t H,
                    std::size_t W, std::size_t C, int pad, ThreadPool* pool) {
  const std::size_t Wp = W + 2 * pad, Hp = H + 2 * pad;
  parallel_ranges(pool, N * H, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / H, h = r % H;
      const In* in = x + r * W * C;
      T* out = xp + ((n * Hp + h + pad) * Wp + pad) * C;
      for (std::size_t w = 0; w < W; ++w) {
        if constexpr (std::is_floating_point_v<In>) {
          for (std::size_t c = 0; c < C; ++c) out[w * C + c] = static_cast<T>(in[w * C + c]);
        } else {
          for (std::size_t c = 0; c < C; ++c) {
            out[w * C + c] = static_cast<T>(static_cast<std::int32_t>(in[w * C + c]) - zp[c]);
          }
        }
      }
    }
  });
}

}  // namespace
}  // namespace bnnflow::glue
