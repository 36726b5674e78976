// The best (smallest) wall time of `reps` calls of f, in seconds: the timer of the standalone
// bound benchmarks (avx2_stem_bound.cc, avx512_stem_bound.cc), one thread, no statistics.
#pragma once
#include <algorithm>
#include <chrono>

template <class F>
double best_seconds(int reps, const F& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
