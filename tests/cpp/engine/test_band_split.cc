// How threads split a band chain (engine/band_steps.h): largest_band_share against a plain
// simulation of the units each thread runs, and balanced_band's choice on the chains of
// Bi-Real-Net-18 and over every small (h, planned band, batch, threads).
#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/threadpool.h"
#include "engine/band_steps.h"

namespace {

using bnnflow::engine::balanced_band;
using bnnflow::engine::largest_band_share;

int failures = 0, checks = 0;

void expect(bool ok, const char* what, std::size_t h, std::size_t band, std::size_t n,
            std::size_t threads, std::size_t got, std::size_t want) {
  ++checks;
  if (ok) return;
  ++failures;
  std::printf("FAILED: %s h=%zu band=%zu n=%zu threads=%zu: got %zu, want %zu\n", what, h, band,
              n, threads, got, want);
}

// The largest share by walking every unit: unit u is band u % B of sample u / B, whose rows
// are those of [b * band, min((b + 1) * band, h)); each unit costs its rows + 1.
std::size_t simulated_share(std::size_t h, std::size_t band, std::size_t n, std::size_t threads) {
  const std::size_t bands = (h + band - 1) / band, units = n * bands;
  const std::size_t parts = std::min(units, threads);
  std::size_t worst = 0;
  for (std::size_t t = 0; t < parts; ++t) {
    std::size_t u0, u1, cost = 0;
    bnnflow::split_range(units, static_cast<int>(parts), static_cast<int>(t), &u0, &u1);
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t first = (u % bands) * band;
      cost += std::min(band, h - first) + 1;
    }
    worst = std::max(worst, cost);
  }
  return worst;
}

}  // namespace

int main() {
  // Bi-Real-Net-18's downsample chains (28, 14 and 7 output rows) at batch 1, 2 threads.
  struct Case {
    std::size_t h, planned, n, threads, want;
  } cases[] = {
      {28, 11, 1, 2, 7},  // 3 bands (22 + 6 rows) -> 4 of 7 (14 + 14)
      {14, 11, 1, 2, 7},  // 2 bands of 11 + 3 -> 7 + 7
      {7, 7, 1, 2, 4},    // 1 band -> 4 + 3
      {28, 7, 1, 2, 7},   // 4 bands split evenly: as planned
      {15, 14, 1, 2, 8},  // 2 bands, but of 14 + 1 rows -> 8 + 7
      {28, 11, 1, 1, 11}, // one thread: as planned
      {28, 11, 2, 2, 11}, // 6 bands over 2 threads: as planned
      {1, 1, 1, 4, 1},
  };
  for (const Case& c : cases) {
    const std::size_t got = balanced_band(c.h, c.planned, c.n, c.threads);
    expect(got == c.want, "balanced_band", c.h, c.planned, c.n, c.threads, got, c.want);
  }
  for (std::size_t h = 1; h <= 60; ++h) {
    for (std::size_t planned = 1; planned <= h; ++planned) {
      for (std::size_t n = 1; n <= 3; ++n) {
        for (std::size_t threads = 1; threads <= 5; ++threads) {
          const std::size_t share = largest_band_share(h, planned, n, threads);
          const std::size_t sim = simulated_share(h, planned, n, threads);
          expect(share == sim, "largest_band_share", h, planned, n, threads, share, sim);
          // The choice: within [1, planned], no band with a smaller largest share, and no wider
          // band with the same one.
          const std::size_t got = balanced_band(h, planned, n, threads);
          const bool in_range = got >= 1 && got <= planned;
          expect(in_range, "balanced_band in [1, planned]", h, planned, n, threads, got, planned);
          if (!in_range) continue;
          const std::size_t best = simulated_share(h, got, n, threads);
          std::size_t want = got;
          for (std::size_t b = planned; b >= 1; --b) {
            const std::size_t s = simulated_share(h, b, n, threads);
            if (s < best || (s == best && b > got)) {
              want = b;
              break;
            }
          }
          if (threads == 1) want = planned;
          expect(got == want, "balanced_band is the best", h, planned, n, threads, got, want);
        }
      }
    }
  }
  std::printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
