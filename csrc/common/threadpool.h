// A fixed pool of worker threads for data-parallel loops. One pool per Interpreter (or per
// kernel call from Python); the calling thread takes part in the work.
//
// Hand-off: a worker that finishes a job spins (pause, then yield) for up to kSpinMicros on
// the job counter before it blocks on the condition variable, and the caller spins likewise
// for the workers to finish. Kernels called back to back (an interpreter run) therefore start
// on every thread within a fraction of a microsecond instead of paying a futex wake-up (5-50
// us, as long as a whole requant of a 56x56x64 tensor) per call.
//
// Each thread's contiguous range of tasks is a slot claimed by one atomic exchange. The caller
// runs its own slot, then claims (steals) every worker slot not yet claimed: when the other
// cores are busy with other processes, a descheduled worker costs nothing instead of making
// the caller wait for it; the caller only waits for slots a worker actually started.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bnnflow {

class ThreadPool {
 public:
  // num_threads counts the caller: 1 means no worker threads at all. Throws
  // std::runtime_error (after joining the workers already started) when the OS refuses a
  // thread.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task) for task in [0, num_tasks), spread over the threads, and waits for all.
  // Tasks are handed out in contiguous chunks, one per thread, so callers choose task
  // granularity (e.g. rows x channel blocks). Not re-entrant; one parallel_for at a time
  // (calls from several threads are serialised).
  void parallel_for(std::size_t num_tasks, const std::function<void(std::size_t)>& fn);

 private:
  void worker_loop(int index);
  void stop_and_join();  // sets stop_, wakes and joins every started worker

  // How long an idle worker (or a waiting caller) spins before it sleeps.
  static constexpr int kSpinMicros = 50;

  // Runs slot `index` of the current job (its contiguous range of tasks).
  void run_slot(int index);

  struct alignas(64) Slot {
    std::atomic<int> claimed{0};  // 0: free, 1: claimed by its worker or the caller
  };

  std::vector<std::thread> workers_;
  std::unique_ptr<Slot[]> slots_;  // one per worker thread (index 1..), [0] unused
  std::mutex run_mutex_;  // serialises parallel_for callers
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(std::size_t)>* fn_ = nullptr;  // published by the slot reset
  std::size_t num_tasks_ = 0;                              // published by the slot reset
  std::atomic<unsigned long long> generation_{0};
  std::atomic<int> completed_{0};  // worker-run slots finished in the current job
  std::atomic<bool> stop_{false};
};

// Splits [0, n) into `parts` near-equal contiguous ranges; returns range `index`.
inline void split_range(std::size_t n, int parts, int index, std::size_t* begin,
                        std::size_t* end) {
  const std::size_t base = n / parts, extra = n % parts;
  const std::size_t i = static_cast<std::size_t>(index);
  *begin = i * base + (i < extra ? i : extra);
  *end = *begin + base + (i < extra ? 1 : 0);
}

// The parallel loop of the ISA kernels (parallel_ranges of kernels/common/kernel_common.h):
// fn(ctx, begin, end) over [0, n) split into one contiguous range per pool thread
// (pool == nullptr: one range on the calling thread). A plain function, defined in
// threadpool.cc: kernels compiled with ISA flags call it with a TU-local callback instead of
// instantiating std::function, num_threads or split_range themselves (docs/development.md,
// "Per-ISA objects").
using RangeFn = void (*)(const void* ctx, std::size_t begin, std::size_t end);
void run_ranges(ThreadPool* pool, std::size_t n, RangeFn fn, const void* ctx);

}  // namespace bnnflow
