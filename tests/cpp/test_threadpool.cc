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
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
