// channel shuffle: per row, a g x n -> n x g transpose of the channel vector, split over rows.
#include "kernels/channel_shuffle/channel_shuffle.h"

#include <cstdint>
#include <cstring>

namespace bnnflow::glue {

namespace {

template <class T>
void shuffle_rows(const T* x, T* y, std::size_t r0, std::size_t r1, std::size_t c,
                  std::size_t g) {
  const std::size_t n = c / g;
  for (std::size_t r = r0; r < r1; ++r) {
    const T* xr = x + r * c;
    T* yr = y + r * c;
    for (std::size_t i = 0; i < g; ++i) {
      const T* src = xr + i * n;
      for (std::size_t j = 0; j < n; ++j) yr[j * g + i] = src[j];
    }
  }
}

}  // namespace

void channel_shuffle(const ChannelShuffleArgs& a, ThreadPool* pool) {
  const std::size_t c = a.channels, g = a.groups;
  if (g <= 1 || g == c) {  // identity permutations (g = 1 or n = 1): one copy
    parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
      const std::size_t row = c * a.elem_size;
      std::memcpy(static_cast<char*>(a.y) + r0 * row,
                  static_cast<const char*>(a.x) + r0 * row, (r1 - r0) * row);
    });
    return;
  }
  parallel_ranges(pool, a.rows, [&](std::size_t r0, std::size_t r1) {
    if (a.elem_size == 1) {
      shuffle_rows(static_cast<const std::int8_t*>(a.x), static_cast<std::int8_t*>(a.y), r0,
                   r1, c, g);
    } else {
      shuffle_rows(static_cast<const std::uint32_t*>(a.x), static_cast<std::uint32_t*>(a.y),
                   r0, r1, c, g);
    }
  });
}

}  // namespace bnnflow::glue
