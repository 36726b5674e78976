#include "common/threadpool.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace bnnflow {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spins until done() or `micros` have passed; returns done(). After a short pure spin it
// yields between checks: when the thread it waits for shares its CPU (a busy machine), the
// yield lets that thread run instead of burning the time slice. (A pure pause spin was tried:
// the scheduler sometimes puts both threads of a pool on one CPU, and a thread that then only
// pauses starves the one it waits for until the next tick; docs/performance.md, "Threads".)
template <class Done>
bool spin_until(const Done& done, int micros) {
  for (int i = 0; i < 256; ++i) {
    if (done()) return true;
    cpu_relax();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (done()) return true;
      std::this_thread::yield();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

inline std::uint64_t pack(std::uint64_t lo, std::uint64_t hi) { return lo | (hi << 32); }
inline std::uint64_t lo_of(std::uint64_t r) { return r & 0xFFFFFFFFu; }
inline std::uint64_t hi_of(std::uint64_t r) { return r >> 32; }

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads < 1) throw std::invalid_argument("num_threads must be >= 1");
  threads_ = num_threads;
  slots_.reset(new Slot[num_threads]);
  workers_.reserve(num_threads - 1);
  try {
    for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (const std::exception& e) {
    // A destructor does not run for a half-built object: stop and join the started workers
    // here (a joinable std::thread destroyed would call std::terminate).
    const std::size_t started = workers_.size();
    stop_and_join();
    throw std::runtime_error("ThreadPool: could not start worker thread " +
                             std::to_string(started + 1) + " of " +
                             std::to_string(num_threads - 1) + ": " + e.what());
  }
}

ThreadPool::~ThreadPool() { stop_and_join(); }

void ThreadPool::stop_and_join() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// Owner (front): an untouched slot gives three quarters of it, then the rest at once while no
// thief has taken from the back; otherwise (a thief came, or the owner is late) half of what
// is left. Thief (back): half of what is left. A claim is one compare-exchange; the acquire
// pairs with the release store that published the job (fn_, ctx_, n_, grain_).
bool ThreadPool::run_piece(int slot, bool owner) {
  Slot& s = slots_[slot];
  std::uint64_t r = s.range.load(std::memory_order_acquire), lo, hi, b, e;
  for (;;) {
    lo = lo_of(r);
    hi = hi_of(r);
    if (lo >= hi) return false;
    const std::uint64_t size = s.size.load(std::memory_order_relaxed), left = hi - lo;
    std::uint64_t take = (left + 1) / 2;
    if (owner && hi == size) take = lo == 0 ? left - left / 4 : left;
    if (owner) {
      b = lo, e = lo + take;
      if (s.range.compare_exchange_weak(r, pack(e, hi), std::memory_order_acq_rel)) break;
    } else {
      b = hi - take, e = hi;
      if (s.range.compare_exchange_weak(r, pack(lo, b), std::memory_order_acq_rel)) break;
    }
  }
  // The job's fields are read before the tasks are counted done: once the last ones are, the
  // caller may return and publish the next job.
  const std::size_t n = n_;
  std::size_t begin, end;
  split_range(n, num_threads(), slot, &begin, &end);
  const std::size_t t0 = begin + static_cast<std::size_t>(b) * grain_;
  const std::size_t t1 = std::min(end, begin + static_cast<std::size_t>(e) * grain_);
  try {
    fn_(ctx_, t0, t1);
  } catch (...) {
    // Kept for the caller (the first of several), and the piece still counts as done: the
    // job ends when every piece has finished or thrown, so nothing runs after it returns.
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
  // The task that completes the job wakes a caller that may be asleep (under the mutex, so
  // the wake-up cannot be lost between its predicate check and its wait).
  if (done_.fetch_add(t1 - t0, std::memory_order_acq_rel) + (t1 - t0) == n) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_cv_.notify_one();
  }
  return true;
}

void ThreadPool::work(int index) {
  while (run_piece(index, true)) {
  }
  const int threads = num_threads();
  for (int k = 1; k < threads; ++k) {
    const int victim = (index + k) % threads;
    while (run_piece(victim, false)) {
    }
  }
}

void ThreadPool::parallel_ranges(std::size_t n, RangeFn fn, const void* ctx) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    fn(ctx, 0, n);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  const int threads = num_threads();
  {
    // Under mutex_ so a worker between its predicate check and its wait cannot miss the job.
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    const std::size_t largest = (n + threads - 1) / threads;
    grain_ = largest / 0xFFFFFFFFu + 1;  // slot lengths in grains fit 32 bits
    done_.store(0, std::memory_order_relaxed);
    for (int t = 0; t < threads; ++t) {
      std::size_t b, e;
      split_range(n, threads, t, &b, &e);
      const std::uint64_t size = (e - b + grain_ - 1) / grain_;
      slots_[t].size.store(static_cast<std::uint32_t>(size), std::memory_order_relaxed);
      // Publishes the job to the thread that claims from this slot.
      slots_[t].range.store(pack(0, size), std::memory_order_release);
    }
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  work(0);
  auto all_done = [&] { return done_.load(std::memory_order_acquire) == n; };
  // Held awake (a run): spin on, the worker finishing the job may be descheduled for longer
  // than kSpinMicros, and a sleeping caller would pay the wake-up on top.
  while (!spin_until(all_done, kSpinMicros)) {
    if (held_awake()) continue;
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, all_done);
    break;
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::parallel_for(std::size_t num_tasks,
                              const std::function<void(std::size_t)>& fn) {
  parallel_ranges(num_tasks,
                  [](const void* ctx, std::size_t b, std::size_t e) {
                    const auto& f = *static_cast<const std::function<void(std::size_t)>*>(ctx);
                    for (std::size_t t = b; t < e; ++t) f(t);
                  },
                  &fn);
}

// A worker takes part in each new job: its own slot, then the others'. It may come late, when
// the job it woke for is done and the next one published: it then claims pieces of that next
// job, which cannot finish while a claimed piece runs (the caller waits for every task).
void ThreadPool::worker_loop(int index) {
  unsigned long long seen = 0;
  for (;;) {
    auto ready = [&] {
      return stop_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    // Sleeps after kSpinMicros idle, unless held awake (then spins on); a guard created
    // while it sleeps wakes it (the predicate below), and it spins from then on.
    while (!spin_until(ready, kSpinMicros)) {
      if (held_awake()) continue;
      std::unique_lock<std::mutex> lock(mutex_);
      if (ready() || held_awake()) continue;
      sleeps_.fetch_add(1, std::memory_order_relaxed);
      start_cv_.wait(lock, [&] { return ready() || held_awake(); });
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    work(index);
  }
}

// Under mutex_ so that a worker between its predicate check and its wait cannot miss the
// change: it sees the guard, or it is waiting when notify_all comes.
void ThreadPool::hold_awake(int delta) {
  if (threads_ == 1) return;
  bool woke;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woke = awake_.fetch_add(delta, std::memory_order_acq_rel) == 0 && delta > 0;
  }
  if (woke) start_cv_.notify_all();
}

ThreadPool::Awake::Awake(ThreadPool& pool) : pool_(pool) { pool_.hold_awake(1); }
ThreadPool::Awake::~Awake() { pool_.hold_awake(-1); }

void run_ranges(ThreadPool* pool, std::size_t n, RangeFn fn, const void* ctx) {
  if (n == 0) return;
  if (pool == nullptr) {
    fn(ctx, 0, n);
    return;
  }
  pool->parallel_ranges(n, fn, ctx);
}

}  // namespace bnnflow
