// A fixed pool of worker threads for data-parallel loops. One pool per Interpreter (or per
// kernel call from Python); the calling thread takes part in the work.
//
// Hand-off: a worker that finishes a job spins (pause, then yield) for up to kSpinMicros on
// the job counter before it blocks on the condition variable, and the caller spins likewise
// for the workers to finish. Kernels called back to back (an interpreter run) therefore start
// on every thread within a fraction of a microsecond instead of paying a futex wake-up (5-50
// us, as long as a whole requant of a 56x56x64 tensor) per call.
//
// Work split: [0, n) is cut into one contiguous range per thread (split_range), each a slot
// whose unclaimed part [lo, hi) is one atomic word. Its owner claims from the front: three
// quarters of an untouched slot, then the rest while nobody has taken from the back (one or
// two calls of the body), else half of what is left; a thread whose own slot is empty steals
// from the back of the others', half of what is left at a time. With every thread present
// each runs its own range, as with a static split; a
// worker that is late (asleep when the job came, or descheduled by another process) costs
// only the part it could not do, not its whole range: the others take its slot from the back
// and it joins for what is left when it comes. The caller returns when every task has run.
//
// Runs: an interpreter run is tens of jobs back to back, and a worker that went to sleep
// between two of them (its part done more than kSpinMicros before the next job, e.g. while
// the caller was descheduled) starts 35 us to over 0.6 ms after the next wake-up on a VM.
// While an Awake guard (below) is alive the idle threads spin (pause, then yield) without
// sleeping, and creating it wakes sleeping workers at once, so they are up by the first job.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
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

  int num_threads() const { return threads_; }

  // Calls fn(task) for task in [0, num_tasks), spread over the threads, and waits for all.
  // Each thread runs contiguous tasks of its own range first (see above), so callers choose
  // task granularity (e.g. rows x channel blocks; one task per thread keeps a static split).
  // Not re-entrant; one parallel_for at a time (calls from several threads are serialised).
  // A task may throw, on any thread: the rest of its piece is skipped, the other pieces run,
  // and once all have finished or thrown the caller rethrows the exception (the first, if
  // several threw); the pool stays usable.
  void parallel_for(std::size_t num_tasks, const std::function<void(std::size_t)>& fn);

  // Calls fn(ctx, begin, end) on disjoint ranges covering [0, n), spread over the threads as
  // described above, and waits for all. Same rules as parallel_for.
  using RangeFn = void (*)(const void* ctx, std::size_t begin, std::size_t end);
  void parallel_ranges(std::size_t n, RangeFn fn, const void* ctx);

  // Keeps the pool's threads awake for its lifetime (a run of many jobs): sleeping workers are
  // woken now, and idle workers (and a caller waiting for its job) spin instead of sleeping
  // until the last guard is destroyed; then they sleep after kSpinMicros idle, as without.
  // Guards nest and may be held by several threads; a pool of one thread ignores them.
  class Awake {
   public:
    explicit Awake(ThreadPool& pool);
    ~Awake();
    Awake(const Awake&) = delete;
    Awake& operator=(const Awake&) = delete;

   private:
    ThreadPool& pool_;
  };

  // Whether an Awake guard is alive.
  bool held_awake() const { return awake_.load(std::memory_order_acquire) > 0; }
  // How many times a worker has gone to sleep (blocked waiting for a job) so far.
  std::uint64_t worker_sleeps() const { return sleeps_.load(std::memory_order_relaxed); }

 private:
  void worker_loop(int index);
  void stop_and_join();  // sets stop_, wakes and joins every started worker

  // How long an idle worker (or a waiting caller) spins before it sleeps.
  static constexpr int kSpinMicros = 50;

  // Runs what this thread can claim of the current job: its own slot `index` from the front,
  // then the other slots from the back, until every slot is empty.
  void work(int index);
  // Claims one piece of slot `slot` (from the front when `owner`) and runs it; false when the
  // slot is empty.
  bool run_piece(int slot, bool owner);

  // A slot's unclaimed range [lo, hi) as lo | hi << 32, in grains (below) from the start of
  // the slot's range; size: the slot's length in grains (relaxed: it only sizes the pieces,
  // the claim itself is the compare-exchange on range).
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> range{0};
    std::atomic<std::uint32_t> size{0};
  };

  int threads_ = 1;  // set before the workers start (they read it while others are created)
  std::vector<std::thread> workers_;
  std::unique_ptr<Slot[]> slots_;  // one per thread, [0] the caller's
  std::mutex run_mutex_;  // serialises parallel_for callers
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  // The current job, published by the release stores of the slot words: read only after a
  // successful claim (a slot's range as split_range(n_, threads) gives it, in grains of
  // grain_ tasks so that lo and hi fit 32 bits).
  RangeFn fn_ = nullptr;
  const void* ctx_ = nullptr;
  std::size_t n_ = 0, grain_ = 1;
  std::atomic<unsigned long long> generation_{0};
  std::atomic<std::size_t> done_{0};  // tasks finished in the current job
  std::exception_ptr error_;  // under mutex_: the first exception a piece of the job threw
  std::atomic<bool> stop_{false};
  std::atomic<int> awake_{0};  // live Awake guards; changed under mutex_ (see hold_awake)
  std::atomic<std::uint64_t> sleeps_{0};  // worker_sleeps()

  void hold_awake(int delta);
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
// fn(ctx, begin, end) on ranges covering [0, n), pool->parallel_ranges (pool == nullptr: one
// range on the calling thread). A plain function, defined in threadpool.cc: kernels compiled
// with ISA flags call it with a TU-local callback instead of instantiating std::function,
// num_threads or split_range themselves (docs/development.md, "Per-ISA objects").
using RangeFn = ThreadPool::RangeFn;
void run_ranges(ThreadPool* pool, std::size_t n, RangeFn fn, const void* ctx);

}  // namespace bnnflow
