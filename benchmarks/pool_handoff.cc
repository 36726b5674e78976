// The thread pool's hand-off cost per parallel_for call (docs/performance.md, "Threads";
// issue 12 asks for < 1 us per op): CALLS back-to-back calls with one task per thread that
// does `work_ns` of spinning, timed in ROUNDS rounds; prints the median time per call minus
// the work, i.e. what a call costs beyond its own work, for 1 and for THREADS threads.
// Build (from the repository root, after any build of libbnnflow_core.a, e.g. build/ct):
//   g++ -O2 -std=c++17 -Icsrc benchmarks/pool_handoff.cc build/ct/libbnnflow_core.a \
//       -lpthread -o /tmp/pool_handoff
// Usage: /tmp/pool_handoff [THREADS=2] [CALLS=20000] [ROUNDS=9]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/threadpool.h"

namespace {

using Clock = std::chrono::steady_clock;

void spin_ns(long ns) {
  const auto end = Clock::now() + std::chrono::nanoseconds(ns);
  while (Clock::now() < end) {
  }
}

// Median over rounds of (time per call − work per task), in microseconds.
double overhead_us(bnnflow::ThreadPool& pool, int calls, int rounds, long work_ns) {
  std::vector<double> per_call;
  const std::size_t tasks = static_cast<std::size_t>(pool.num_threads());
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    for (int c = 0; c < calls; ++c) pool.parallel_for(tasks, [&](std::size_t) { spin_ns(work_ns); });
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    per_call.push_back(s / calls * 1e6 - work_ns * 1e-3);
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 9;
  if (threads < 1 || calls < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: %s [THREADS>=1] [CALLS>=1] [ROUNDS>=1]\n", argv[0]);
    return 2;
  }
  for (int t : {1, threads}) {
    bnnflow::ThreadPool pool(t);
    for (long work : {0L, 2000L, 20000L}) {
      std::printf("threads %d, work per task %5.1f us: %.3f us per call beyond the work\n", t,
                  work * 1e-3, overhead_us(pool, work > 0 ? calls / 10 : calls, rounds, work));
    }
  }
  return 0;
}
