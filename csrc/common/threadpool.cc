#include "common/threadpool.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

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
// yields between checks: when the thread it waits for shares its core (a busy machine), the
// yield lets that thread run instead of burning the time slice.
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

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads < 1) throw std::invalid_argument("num_threads must be >= 1");
  slots_.reset(new Slot[num_threads]);
  for (int i = 0; i < num_threads; ++i) slots_[i].claimed.store(1);
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

void ThreadPool::run_slot(int index) {
  std::size_t begin, end;
  split_range(num_tasks_, num_threads(), index, &begin, &end);
  for (std::size_t t = begin; t < end; ++t) (*fn_)(t);
}

void ThreadPool::parallel_for(std::size_t num_tasks,
                              const std::function<void(std::size_t)>& fn) {
  if (num_tasks == 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (std::size_t t = 0; t < num_tasks; ++t) fn(t);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  const int workers = static_cast<int>(workers_.size());
  {
    // Under mutex_ so a worker between its predicate check and its wait cannot miss the job.
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    num_tasks_ = num_tasks;
    completed_.store(0, std::memory_order_relaxed);
    // Freeing a slot publishes fn_ and num_tasks_ to the thread that claims it.
    for (int w = 1; w <= workers; ++w) slots_[w].claimed.store(0, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_slot(0);
  int by_workers = 0;
  for (int w = 1; w <= workers; ++w) {
    if (slots_[w].claimed.exchange(1, std::memory_order_acq_rel) == 0) {
      run_slot(w);  // its worker has not started it: run it here
    } else {
      ++by_workers;
    }
  }
  auto all_done = [&] { return completed_.load(std::memory_order_acquire) == by_workers; };
  if (!spin_until(all_done, kSpinMicros)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, all_done);
  }
}

// A worker claims its own slot of each new job; a slot claimed late (its job already done and
// the next one started) belongs to that next job, whose fn_ it then runs — correct, because a
// job cannot finish while one of its claimed slots runs.
void ThreadPool::worker_loop(int index) {
  unsigned long long seen = 0;
  for (;;) {
    auto ready = [&] {
      return stop_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(ready, kSpinMicros)) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, ready);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    if (slots_[index].claimed.exchange(1, std::memory_order_acq_rel) != 0) continue;
    run_slot(index);
    completed_.fetch_add(1, std::memory_order_acq_rel);
    // The caller may be asleep: notify under the mutex so the wake-up cannot be lost.
    std::lock_guard<std::mutex> lock(mutex_);
    done_cv_.notify_one();
  }
}

void run_ranges(ThreadPool* pool, std::size_t n, RangeFn fn, const void* ctx) {
  if (n == 0) return;
  const int parts = pool == nullptr ? 1 : pool->num_threads();
  if (parts <= 1 || n == 1) {
    fn(ctx, 0, n);
    return;
  }
  const int used = n < static_cast<std::size_t>(parts) ? static_cast<int>(n) : parts;
  pool->parallel_for(static_cast<std::size_t>(used), [&](std::size_t t) {
    std::size_t b, e;
    split_range(n, used, static_cast<int>(t), &b, &e);
    fn(ctx, b, e);
  });
}

}  // namespace bnnflow
