// The pool runs every task exactly once, for any task count and thread count; parallel_ranges
// hands out disjoint in-range pieces (also past 2^32 tasks); a thread whose own range is done
// takes the rest of a slow thread's range; a task's exception reaches the caller; an Awake
// guard keeps the workers from sleeping between jobs, nests, and may be taken on any thread.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
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

// parallel_ranges: the pieces are disjoint, inside [0, n), and cover it, for many n and thread
// counts, with jobs back to back and after the workers have gone to sleep.
bool ranges_cover(int threads) {
  bnnflow::ThreadPool pool(threads);
  bool ok = true;
  for (std::size_t n : {1u, 2u, 3u, 5u, 8u, 13u, 64u, 100u, 1000u, 4099u}) {
    for (int rep = 0; rep < 4 && ok; ++rep) {
      if (rep == 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers asleep
      struct Ctx {
        std::vector<std::atomic<int>> hits;
        std::atomic<int> bad{0};
        std::size_t n;
      } ctx{std::vector<std::atomic<int>>(n), {}, n};
      pool.parallel_ranges(n,
                           [](const void* p, std::size_t b, std::size_t e) {
                             auto& c = *static_cast<Ctx*>(const_cast<void*>(p));
                             if (b >= e || e > c.n) c.bad.fetch_add(1);
                             for (std::size_t t = b; t < e && t < c.n; ++t) c.hits[t].fetch_add(1);
                           },
                           &ctx);
      ok = ctx.bad.load() == 0;
      for (std::size_t t = 0; t < n; ++t) ok = ok && ctx.hits[t].load() == 1;
      if (!ok) std::printf("FAILED: parallel_ranges threads=%d n=%zu rep=%d\n", threads, n, rep);
    }
  }
  return ok;
}

// The caller is slow on its first piece (three quarters of its range); the worker, done with
// its own range, must take the rest of the caller's from the back: the caller waits (up to
// 5 s) until a task of that tail has run on another thread.
bool slow_thread_is_helped() {
  bnnflow::ThreadPool pool(2);
  const std::size_t n = 100;  // slot 0 = [0, 50): the caller's first piece [0, 38)
  std::atomic<int> tail_by_other{0};
  const std::thread::id caller = std::this_thread::get_id();
  pool.parallel_for(n, [&](std::size_t t) {
    if (t == 0) {
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (tail_by_other.load() == 0 && std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    if (t >= 38 && t < 50 && std::this_thread::get_id() != caller) tail_by_other.fetch_add(1);
  });
  if (tail_by_other.load() == 0) {
    std::printf("FAILED: the worker did not take the slow caller's tail\n");
  }
  return tail_by_other.load() > 0;
}

// More tasks than fit 32 bits (the pool claims them in grains of several tasks): the pieces
// are disjoint, inside [0, n) and add up to n. Ranges only, so no task loop runs.
bool huge_ranges_cover(int threads) {
  bnnflow::ThreadPool pool(threads);
  struct Ctx {
    std::size_t n;
    std::atomic<std::uint64_t> total{0}, bad{0};
    std::atomic<int> pieces{0};
  };
  bool ok = true;
  for (std::size_t n : {(std::size_t{1} << 33) + 7, (std::size_t{1} << 40) + 3}) {
    Ctx ctx;
    ctx.n = n;
    pool.parallel_ranges(n,
                         [](const void* p, std::size_t b, std::size_t e) {
                           auto& c = *static_cast<Ctx*>(const_cast<void*>(p));
                           if (b >= e || e > c.n) c.bad.fetch_add(1);
                           c.total.fetch_add(e - b);
                           c.pieces.fetch_add(1);
                         },
                         &ctx);
    // Disjointness: pieces inside [0, n) whose lengths add up to n cover it exactly once
    // only if none overlaps, which the sum alone cannot tell; the claim words are exact, so
    // check both the sum and that every piece is in range.
    if (ctx.bad.load() != 0 || ctx.total.load() != n) {
      std::printf("FAILED: parallel_ranges threads=%d n=%zu: total %llu, %llu bad pieces\n",
                  threads, n, static_cast<unsigned long long>(ctx.total.load()),
                  static_cast<unsigned long long>(ctx.bad.load()));
      ok = false;
    }
  }
  return ok;
}

// A task that throws, on the caller or on a worker: parallel_for rethrows it on the caller
// (not std::terminate), only after every other claimed piece has finished (none still running
// when it returns), and the pool runs the next jobs exactly. In a child process with an alarm:
// a terminate or a hang is reported, not inherited.
bool task_exception_reaches_caller() {
  std::fflush(stdout);  // the child must not inherit (and later flush) buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    for (int threads : {2, 3}) {
      bnnflow::ThreadPool pool(threads);
      const std::thread::id caller = std::this_thread::get_id();
      for (const bool on_worker : {false, true}) {
        bool thrown_there = false;
        for (int attempt = 0; attempt < 20 && !thrown_there; ++attempt) {
          std::atomic<int> running{0}, armed{1};
          std::atomic<bool> by_worker{false};
          bool caught = false;
          try {
            pool.parallel_for(48, [&](std::size_t) {
              running.fetch_add(1);
              const bool mine = (std::this_thread::get_id() != caller) == on_worker;
              if (mine && armed.exchange(0) == 1) {
                by_worker = std::this_thread::get_id() != caller;
                running.fetch_sub(1);
                throw std::runtime_error("task failed");
              }
              std::this_thread::sleep_for(std::chrono::microseconds(300));
              running.fetch_sub(1);
            });
          } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "task failed";
            if (running.load() != 0) _exit(6);  // returned while tasks still ran
          }
          if (armed.load() == 0 && !caught) _exit(7);  // thrown but not rethrown
          thrown_there = caught && by_worker.load() == on_worker;
        }
        if (!thrown_there) _exit(on_worker ? 8 : 9);
        std::vector<std::atomic<int>> hits(1000);
        pool.parallel_for(hits.size(), [&](std::size_t t) { hits[t].fetch_add(1); });
        for (auto& h : hits) {
          if (h.load() != 1) _exit(10);  // the job after the exception is wrong
        }
      }
    }
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::printf("FAILED: task exception: child %s %d\n", WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    std::fflush(stdout);
    return false;
  }
  return true;
}

// While an Awake guard lives, a worker does not go to sleep between jobs however long the gap
// (here 3 ms, 60x the idle spin); after the last guard ends it sleeps again (which shows that
// the sleep counter can move). Guards nest.
bool awake_keeps_workers_up() {
  bnnflow::ThreadPool pool(2);
  std::atomic<int> hits{0};
  auto job = [&] { pool.parallel_for(8, [&](std::size_t) { hits.fetch_add(1); }); };
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(3)); };
  job();
  pause();  // the worker is asleep (or about to be)
  bool ok = true;
  std::uint64_t released = 0;  // the count when the last guard ends (none sleeps while held)
  {
    const bnnflow::ThreadPool::Awake outer(pool);
    const std::uint64_t before = pool.worker_sleeps();
    {
      const bnnflow::ThreadPool::Awake inner(pool);
      for (int i = 0; i < 5; ++i) job(), pause();
    }
    ok = ok && pool.held_awake();  // the outer guard still holds
    for (int i = 0; i < 5; ++i) job(), pause();
    if (pool.worker_sleeps() != before) {
      std::printf("FAILED: a worker slept %llu times while held awake\n",
                  static_cast<unsigned long long>(pool.worker_sleeps() - before));
      ok = false;
    }
    released = pool.worker_sleeps();
  }
  ok = ok && !pool.held_awake();
  for (int i = 0; i < 200 && pool.worker_sleeps() == released; ++i) pause();
  if (pool.worker_sleeps() == released) {
    std::printf("FAILED: the worker never slept after the guard ended\n");
    ok = false;
  }
  if (hits.load() != 11 * 8) {
    std::printf("FAILED: awake jobs ran %d tasks, expected %d\n", hits.load(), 11 * 8);
    ok = false;
  }
  bnnflow::ThreadPool single(1);  // no workers: a guard is a no-op
  {
    const bnnflow::ThreadPool::Awake guard(single);
    ok = ok && !single.held_awake();
  }
  return ok;
}

// Guards taken and dropped on several threads at once while jobs run (clean under TSan): every
// task runs once per job, and the pool is not held awake once all guards are gone.
bool awake_from_many_threads(int threads) {
  bnnflow::ThreadPool pool(threads);
  std::atomic<bool> stop{false};
  std::vector<std::thread> holders;
  for (int h = 0; h < 3; ++h) {
    holders.emplace_back([&] {
      while (!stop.load()) {
        const bnnflow::ThreadPool::Awake guard(pool);
        std::this_thread::yield();
      }
    });
  }
  bool ok = true;
  std::vector<int> hits(7);
  for (int job = 0; job < 3000 && ok; ++job) {
    for (auto& h : hits) h = 0;
    pool.parallel_for(hits.size(), [&](std::size_t t) { hits[t] += 1; });
    for (int h : hits) ok = ok && h == 1;
    if (job % 500 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop = true;
  for (auto& t : holders) t.join();
  if (!ok) std::printf("FAILED: jobs under concurrent guards, threads=%d\n", threads);
  if (pool.held_awake()) {
    std::printf("FAILED: held awake after every guard ended, threads=%d\n", threads);
    ok = false;
  }
  return ok;
}

int main() {
  int passed = 0, failed = 0;
  for (int threads : {1, 2, 3, 4}) {
    if (ranges_cover(threads)) {
      ++passed;
    } else {
      ++failed;
    }
  }
  for (int threads : {2, 3}) {
    if (huge_ranges_cover(threads)) {
      ++passed;
    } else {
      ++failed;
    }
  }
  if (task_exception_reaches_caller()) {
    ++passed;
  } else {
    ++failed;
  }
  if (slow_thread_is_helped()) {
    ++passed;
  } else {
    ++failed;
  }
  for (const bool ok : {awake_keeps_workers_up(), awake_from_many_threads(2),
                        awake_from_many_threads(4)}) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
    }
  }
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
