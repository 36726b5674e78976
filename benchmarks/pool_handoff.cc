// The thread pool's hand-off cost per parallel_for call (docs/performance.md, "Threads";
// issue 12 asks for < 1 us per op): CALLS back-to-back calls with one task per thread that
// does `work_ns` of spinning, timed in ROUNDS rounds; prints the median time per call minus
// the work, i.e. what a call costs beyond its own work, for 1 and for THREADS threads; then
// how a job fares when the workers slept before it (late_worker).
// Build (from the repository root, after any build of libbnnflow_core.a, e.g. build/ct):
//   g++ -O2 -std=c++17 -Icsrc benchmarks/pool_handoff.cc build/ct/libbnnflow_core.a \
//       -lpthread -o /tmp/pool_handoff
// Usage: /tmp/pool_handoff [THREADS=2] [CALLS=20000] [ROUNDS=9]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
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

// A job after a pause (the workers asleep): 64 tasks of 10 us. Prints the median job time over
// `calls` jobs (one thread alone: 640 us, two: 320 us) and in how many jobs a worker ran at
// least one task, with the median time after the call of its first one.
void late_worker(bnnflow::ThreadPool& pool, int pause_us, int calls) {
  std::vector<double> job, joined;
  for (int c = 0; c < calls; ++c) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<long> first_ns{-1};
    const auto t0 = Clock::now();
    pool.parallel_for(64, [&](std::size_t) {
      if (std::this_thread::get_id() != caller) {
        long none = -1;
        first_ns.compare_exchange_strong(
            none, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
      }
      spin_ns(10000);
    });
    job.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (first_ns.load() >= 0) joined.push_back(first_ns.load() * 1e-3);
  }
  std::sort(job.begin(), job.end());
  std::sort(joined.begin(), joined.end());
  std::printf("threads %d, after a %d us pause: job %.1f us (64 x 10 us tasks); a worker ran "
              "tasks in %zu of %d jobs, its first at %.1f us (medians)\n", pool.num_threads(),
              pause_us, job[job.size() / 2], joined.size(), calls,
              joined.empty() ? -1.0 : joined[joined.size() / 2]);
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
    if (t > 1) late_worker(pool, 3000, 200);
  }
  return 0;
}
