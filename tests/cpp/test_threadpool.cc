// The pool runs every task exactly once, for any task count and thread count.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "common/threadpool.h"

// Sanitizers and qemu-user (the emulator maps its own guest address space) make an address
// space cap meaningless, so the construction-failure check runs only natively.
#if defined(BNNFLOW_UNDER_EMULATOR) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_THREAD__)
#define BNNFLOW_NO_RLIMIT_TEST 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BNNFLOW_NO_RLIMIT_TEST 1
#endif
#endif

// Thread creation failing part-way (address space capped so a few 8 MiB stacks fit, then
// pthread_create fails): the constructor must join the started workers and throw
// std::runtime_error, not terminate or hang. Runs in a child process (the cap is
// process-wide) with an alarm as a hang guard. Returns true when the child behaved.
bool construction_failure_is_clean() {
#ifdef BNNFLOW_NO_RLIMIT_TEST
  return true;  // see BNNFLOW_NO_RLIMIT_TEST above
#else
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t cap = static_cast<rlim_t>(pages) * sysconf(_SC_PAGESIZE) + (40u << 20);
    const rlimit lim{cap, cap};
    if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
    try {
      bnnflow::ThreadPool pool(512);
      _exit(4);  // 511 stacks cannot fit in 40 MiB
    } catch (const std::runtime_error& e) {
      std::printf("  expected failure: %s\n", e.what());
      std::fflush(stdout);
      _exit(0);
    } catch (...) {
      _exit(5);
    }
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::printf("FAILED: pool construction failure: child %s %d\n",
                WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return false;
  }
  return true;
#endif
}

int main() {
  int passed = 0, failed = 0;
  if (construction_failure_is_clean()) {
    ++passed;
  } else {
    ++failed;
  }
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
