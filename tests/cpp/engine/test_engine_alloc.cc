// Allocations on the executor's call path once warm (docs/runtime.md, "Per-call work"):
// after a first run of a batch has grown the model's context (arena, pool) and the calling
// thread's kernel scratch (the bconv's padded input and tile tables, the int8 kernels'
// staging), run() itself adds no operator new call to those of its steps, and the binary
// convolution steps (plain and fused residual blocks, with their BconvPlan) make none; the
// other steps' calls are printed. Counted with a replaced global operator new (every form:
// std::vector, std::function, shared_ptr and AlignedVector all go through it) on the committed
// fixtures (data/), every ISA of this build that the CPU runs, fused and unfused, 1 thread
// (with 2, which worker first runs which tile range varies, so a worker's scratch may still
// grow on a later run). C-level malloc is not counted (the engine's own is the arena's
// aligned_alloc, made once per context).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

#include "common/threadpool.h"
#include "fixture_data.h"
#include "engine/model.h"

namespace e = bnnflow::engine;

static std::atomic<bool> counting{false};
static std::atomic<long> news{0};

// Not inlined: `break count_new` in gdb shows who allocates.
[[gnu::noinline]] void count_new() { news.fetch_add(1, std::memory_order_relaxed); }

static void* counted(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) count_new();
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

static int failures = 0;
static std::vector<int>* volatile probe = nullptr;  // escapes: the allocations stay

using bnnflow_test::fixture_dir;
using bnnflow_test::read_fixture;

static std::vector<std::uint8_t> repeat(const std::vector<std::uint8_t>& sample,
                                        std::size_t batch) {
  std::vector<std::uint8_t> input;
  for (std::size_t i = 0; i < batch; ++i) input.insert(input.end(), sample.begin(), sample.end());
  return input;
}

// operator new calls of `runs` runs of `batch` samples after one warm-up run of `batch`.
static long warm_news(const e::Model& m, const std::vector<std::uint8_t>& input,
                      std::size_t batch, int runs) {
  std::vector<float> out(m.output_bytes(batch) / sizeof(float));
  m.run(input.data(), batch, out.data());
  news.store(0);
  counting.store(true);
  for (int r = 0; r < runs; ++r) m.run(input.data(), batch, out.data());
  counting.store(false);
  return news.load();
}

// The steps whose call path must not allocate: the binary convolutions (plain and fused
// residual blocks) and dense layers (BconvPlan). The other kernels' per-call parameter tables
// and std::function captures (glue requant32 / add / pwl / conv, pack, maxpool_packed) are
// reported, not failed.
static bool must_not_allocate(const std::string& type) {
  return type.rfind("bconv", 0) == 0 || type == "bdense";
}

// Each step of the program alone (on run_all's activations, as run() would call it): operator
// new calls per call once warm. Returns their sum.
static long step_news(const e::Model& m, const std::vector<std::uint8_t>& input,
                      std::size_t batch, const std::string& what) {
  e::Activations acts = m.run_all(input.data(), batch);
  bnnflow::ThreadPool pool(1);
  long total = 0;
  for (const e::Step& s : m.steps()) {
    std::vector<const void*> ins;
    for (int t : s.inputs) ins.push_back(acts.tensor(t));
    if (s.extra_output >= 0) ins.push_back(acts.tensor(s.extra_output));
    void* out = const_cast<void*>(acts.tensor(s.output));
    s.run(ins.data(), out, batch, pool);
    news.store(0);
    counting.store(true);
    for (int r = 0; r < 3; ++r) s.run(ins.data(), out, batch, pool);
    counting.store(false);
    const long n = news.load();
    total += n;
    if (n == 0) continue;
    std::fprintf(stderr, "%s: step %s (%s): %ld operator new calls in 3 warm calls%s\n",
                 what.c_str(), s.name.c_str(), s.type.c_str(), n,
                 must_not_allocate(s.type) ? "" : " (reported, not failed)");
    if (must_not_allocate(s.type)) ++failures;
  }
  return total;
}

static void test_model(const char* name, bnnflow::Isa isa, bool fuse) {
  e::ModelOptions opts;
  opts.isa = isa;
  opts.num_threads = 1;
  opts.fuse = fuse;
  auto m = e::Model::from_file(fixture_dir() + name + ".bnn", opts);
  std::vector<std::uint8_t> sample = read_fixture(std::string(name) + ".input");
  sample.resize(m->input_info().sample_bytes());  // the fixture's first sample
  for (std::size_t batch : {std::size_t{1}, std::size_t{7}}) {
    const std::string what = std::string(name) + " on " + bnnflow::isa_name(isa) +
                             (fuse ? " (fused)" : " (unfused)") + ", batch " +
                             std::to_string(batch);
    const std::vector<std::uint8_t> input = repeat(sample, batch);
    // run() adds nothing to its steps' own allocations (context, arena, input pointers,
    // profile all reused): 5 runs allocate 5/3 times what 3 calls of every step do.
    const long per_steps = step_news(*m, input, batch, what);
    const long per_runs = warm_news(*m, input, batch, 5);
    if (per_runs * 3 != per_steps * 5) {
      std::fprintf(stderr, "%s: 5 warm runs made %ld operator new calls, their steps %ld per 5\n",
                   what.c_str(), per_runs, per_steps * 5 / 3);
      ++failures;
    }
  }
}

int main() {
  // The counter itself counts (the replacement is the one the engine's code calls).
  counting.store(true);
  probe = new std::vector<int>(100);
  counting.store(false);
  delete probe;
  if (news.load() != 2) {
    std::fprintf(stderr, "the counting operator new saw %ld calls, not 2\n", news.load());
    ++failures;
  }
  for (bnnflow::Isa isa : bnnflow::supported_isas()) {
    for (bool fuse : {true, false}) {
      test_model("tiny_int8", isa, fuse);
      test_model("tiny_float", isa, fuse);
    }
  }
  if (failures != 0) {
    std::fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  std::puts("ok");
  return 0;
}
