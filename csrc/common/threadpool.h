// A fixed pool of worker threads for data-parallel loops. One pool per Interpreter (or per
// kernel call from Python); the calling thread takes part in the work.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bnnflow {

class ThreadPool {
 public:
  // num_threads counts the caller: 1 means no worker threads at all.
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

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // serialises parallel_for callers
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t num_tasks_ = 0;
  unsigned long long generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

// Splits [0, n) into `parts` near-equal contiguous ranges; returns range `index`.
inline void split_range(std::size_t n, int parts, int index, std::size_t* begin,
                        std::size_t* end) {
  const std::size_t base = n / parts, extra = n % parts;
  const std::size_t i = static_cast<std::size_t>(index);
  *begin = i * base + (i < extra ? i : extra);
  *end = *begin + base + (i < extra ? 1 : 0);
}

}  // namespace bnnflow
