// The pool runs every task exactly once, for any task count and thread count.
#include <atomic>
#include <cstdio>
#include <vector>

#include "common/threadpool.h"

int main() {
  int passed = 0, failed = 0;
  for (int threads : {1, 2, 3, 4}) {
    bnnflow::ThreadPool pool(threads);
    for (std::size_t n : {0u, 1u, 2u, 3u, 7u, 64u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 3; ++rep) {
        pool.parallel_for(n, [&](std::size_t t) { hits[t].fetch_add(1); });
      }
      bool ok = true;
      for (std::size_t t = 0; t < n; ++t) ok = ok && hits[t].load() == 3;
      if (ok) {
        ++passed;
      } else {
        ++failed;
        std::printf("FAILED: threads=%d n=%zu\n", threads, n);
      }
    }
  }
  // Many short jobs back to back: workers race the caller for their slots (stealing) and
  // may claim a slot of the job after the one they woke for; every task must still run
  // exactly once per job and the job must not return before its tasks have run.
  for (int threads : {2, 3}) {
    bnnflow::ThreadPool pool(threads);
    std::vector<int> hits(5);
    bool ok = true;
    for (int job = 0; job < 20000 && ok; ++job) {
      const std::size_t n = 2 + job % 4;
      for (std::size_t t = 0; t < n; ++t) hits[t] = 0;
      pool.parallel_for(n, [&](std::size_t t) { hits[t] += 1; });
      for (std::size_t t = 0; t < n; ++t) ok = ok && hits[t] == 1;
    }
    if (ok) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAILED: back-to-back jobs, threads=%d\n", threads);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
