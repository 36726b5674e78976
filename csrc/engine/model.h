// The native executor: a .bnn model loaded, validated, planned and bound once; run whole on
// caller's buffers. This is what the C API (include/bnnflow/bnnflow.h), the Python
// Interpreter and the native tools all run.
//
//   auto m = bnnflow::engine::Model::from_file("model.bnn", {/*threads*/ 2});
//   m->run(pixels, batch, logits);  // logits: batch * classes floats
//
// Loading checks everything the Python validator checks (engine/validate.h) before any
// kernel is bound; a bad file or input is an engine::Error naming the op / tensor and rule.
// Thread safety: run(), run_all() and run_op() may be called from many threads at once on one
// model: each call takes a context (thread pool + arena) of its own from a small free list.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "common/threadpool.h"
#include "engine/buffer.h"
#include "engine/container.h"
#include "engine/graph.h"
#include "engine/plan.h"
#include "engine/band_steps.h"
#include "engine/steps.h"
#include "engine/validate.h"

namespace bnnflow::engine {

inline constexpr int kMaxThreads = 256;

struct ModelOptions {
  int num_threads = 1;        // engine threads per op, in [1, kMaxThreads]
  std::optional<Isa> isa;     // default: active_isa() (the best this CPU runs, or BNNFLOW_ISA)
  // Fused steps (docs/runtime.md "Fused steps"); default: on, unless the environment variable
  // BNNFLOW_FUSE is "0". Off: run() executes one step per op, as run_all() does.
  std::optional<bool> fuse;
};

// Every activation of one run (run_all): tensor id t's data at data + batch * offset[t].
struct Activations {
  AlignedBuffer data;
  std::vector<std::size_t> offset;
  std::size_t batch = 0;
  const void* tensor(int id) const { return data.data() + batch * offset[static_cast<std::size_t>(id)]; }
};

struct Timings {
  double load_seconds = 0;     // read + parse + validate
  double prepare_seconds = 0;  // bind kernels, prepare weights, plan
};

class Model {
 public:
  static std::unique_ptr<Model> from_file(const std::string& path, const ModelOptions& opts);
  static std::unique_ptr<Model> from_buffer(const void* data, std::size_t size,
                                            const ModelOptions& opts);
  ~Model();

  const Graph& graph() const { return graph_; }
  const ValidGraph& valid() const { return valid_; }
  const Container& container() const { return container_; }
  const std::string& producer() const { return producer_; }
  const TensorInfo& input_info() const { return valid_.tensors[0]; }
  const TensorInfo& output_info() const { return valid_.tensors[valid_.output]; }
  Isa isa() const { return isa_; }
  bool fused() const { return fuse_; }
  int num_threads() const { return threads_.load(); }
  // Threads for later runs (runs in flight keep theirs). Throws Error(kInput) outside the range.
  void set_num_threads(int n);
  const Timings& timings() const { return timings_; }

  // The program run() executes (fused ops are one step) and the per-op one (run_all).
  const std::vector<Step>& steps() const { return fast_; }
  const std::vector<Step>& op_steps() const { return full_; }
  std::size_t arena_bytes_per_sample() const { return fast_plan_.peak; }
  std::size_t peak_activation_bytes() const { return full_plan_.peak; }

  // The largest batch run() accepts (batch x the arena stays below 2^40 bytes).
  std::size_t max_batch() const;
  std::size_t input_bytes(std::size_t batch) const;
  std::size_t output_bytes(std::size_t batch) const;

  // Logits [batch, classes] for `batch` samples at `input` (input_info's dtype, C order).
  // With step_seconds, the wall time of every step of steps() is stored there.
  void run(const void* input, std::size_t batch, float* output,
           std::vector<double>* step_seconds = nullptr) const;
  // Every activation of the per-op program (for debugging and the reference comparisons).
  Activations run_all(const void* input, std::size_t batch) const;
  // Op `index` alone on its inputs (tensors of that op's input infos, `batch` samples each);
  // writes its output tensor to `output`.
  void run_op(std::size_t index, const void* const* inputs, std::size_t batch,
              void* output) const;

 private:
  struct Context;
  Model() = default;
  void load(const std::uint8_t* data, std::size_t size, const ModelOptions& opts);
  void check_input(const void* input, std::size_t batch) const;  // both checks below
  void check_batch(const void* input, std::size_t batch) const;  // batch range, NULL data
  void check_values(const void* input, std::size_t batch) const;  // finite float inputs
  void build_fused_program();
  // The fused program's steps on a checked input, output copied out (run() minus the checks).
  void run_steps(Context& ctx, const void* input, std::size_t batch, float* output,
                 std::vector<double>* step_seconds) const;
  std::unique_ptr<Context> acquire(std::size_t arena_bytes) const;
  void release(std::unique_ptr<Context> ctx) const;

  Container container_;
  Graph graph_;
  ValidGraph valid_;
  std::string producer_;
  Isa isa_ = Isa::kScalar;
  bool fuse_ = true;
  std::size_t band_bytes_ = kBandBudget;  // BNNFLOW_BAND_BYTES (band_steps.h)
  std::atomic<int> threads_{1};
  std::vector<Step> full_, fast_;
  ArenaPlan full_plan_, fast_plan_;
  Timings timings_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Context>> free_;
};

// An allocator that leaves new elements uninitialised (a file's bytes are read over them).
template <class T>
struct NoInit : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = NoInit<U>;
  };
  NoInit() = default;
  template <class U>
  NoInit(const NoInit<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using FileBytes = std::vector<std::uint8_t, NoInit<std::uint8_t>>;

// The bytes of the file at `path` (Error kIo / kFormat for missing, unreadable, too large).
FileBytes read_file(const std::string& path);

}  // namespace bnnflow::engine
