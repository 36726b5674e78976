#include "engine/model.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <unordered_map>

#include "engine/error.h"
#include "engine/json.h"

namespace bnnflow::engine {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char* kVersionKey = "bnnflow.format_version";
const char* kGraphKey = "bnnflow.graph";

int check_version(const Container& c) {
  auto v = c.metadata.find(kVersionKey);
  if (v == c.metadata.end() || c.metadata.find(kGraphKey) == c.metadata.end()) {
    format_error(std::string("not a bnnflow file: the safetensors metadata lacks '") +
                     kVersionKey + "' or '" + kGraphKey + "'",
                 kVersionKey);
  }
  const std::string& text = v->second;
  bool digits = !text.empty() && text.size() < 10;
  for (char ch : text) digits = digits && ch >= '0' && ch <= '9';
  if (!digits) {
    format_error(std::string(kVersionKey) + ": " + quote(text.substr(0, 20)) +
                     " is not an integer",
                 kVersionKey);
  }
  const int version = std::stoi(text);
  if (version < kMinFormatVersion || version > kFormatVersion) {
    std::string versions;
    for (int i = kMinFormatVersion; i <= kFormatVersion; ++i) {
      versions += (i > kMinFormatVersion ? ", " : "") + std::to_string(i);
    }
    format_error("format version " + std::to_string(version) +
                     " is not supported (this bnnflow runtime reads versions " + versions + ")",
                 kVersionKey);
  }
  return version;
}

// A step program's arena: every tensor a step defines, live from its step to its last
// reader (the graph output: to the end).
ArenaPlan plan_program(const std::vector<Step>& steps, const ValidGraph& g) {
  const std::size_t n = g.tensors.size();
  std::vector<int> first(n, -1), last(n, -1);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (int t : steps[i].inputs) last[static_cast<std::size_t>(t)] = static_cast<int>(i);
    first[static_cast<std::size_t>(steps[i].output)] = static_cast<int>(i);
    if (steps[i].extra_output >= 0) {
      first[static_cast<std::size_t>(steps[i].extra_output)] = static_cast<int>(i);
    }
  }
  std::vector<Lifetime> lts;
  lts.reserve(steps.size());
  auto define = [&](int id) {
    const std::size_t t = static_cast<std::size_t>(id);
    const int stop = id == g.output ? static_cast<int>(steps.size())
                                    : std::max(last[t], first[t]);
    lts.push_back({id, g.tensors[t].sample_bytes(), first[t], stop, &g.tensors[t].name});
  };
  for (const Step& s : steps) {
    define(s.output);
    if (s.extra_output >= 0) define(s.extra_output);
  }
  return place(std::move(lts), n);
}

}  // namespace

struct Model::Context {
  int threads;
  ThreadPool pool;
  AlignedBuffer arena;
  std::vector<const void*> ins;
  explicit Context(int n) : threads(n), pool(n) {}
};

Model::~Model() = default;

FileBytes read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(ErrorKind::kIo, quote(path) + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) throw Error(ErrorKind::kIo, quote(path) + ": is a directory");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) {
    format_error(quote(path) + ": " + std::to_string(st.st_size) + " bytes exceeds the " +
                 std::to_string(kMaxFileBytes) + "-byte limit of a .bnn file");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error(ErrorKind::kIo, quote(path) + ": " + std::strerror(errno));
  std::vector<std::uint8_t, NoInit<std::uint8_t>> data(static_cast<std::size_t>(st.st_size));
  const std::size_t got = data.empty() ? 0 : std::fread(data.data(), 1, data.size(), f);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || got != data.size()) {
    throw Error(ErrorKind::kIo, quote(path) + ": read " + std::to_string(got) + " of " +
                                    std::to_string(data.size()) + " bytes");
  }
  return data;
}

std::unique_ptr<Model> Model::from_file(const std::string& path, const ModelOptions& opts) {
  const auto t0 = Clock::now();
  const FileBytes data = read_file(path);
  const double read_seconds = seconds_since(t0);
  std::unique_ptr<Model> m(new Model());
  m->load(data.data(), data.size(), opts);
  m->timings_.load_seconds += read_seconds;
  return m;
}

std::unique_ptr<Model> Model::from_buffer(const void* data, std::size_t size,
                                          const ModelOptions& opts) {
  if (data == nullptr && size != 0) input_error("buffer: NULL data with a non-zero size");
  std::unique_ptr<Model> m(new Model());
  m->load(static_cast<const std::uint8_t*>(data), size, opts);
  return m;
}

void Model::set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads) {
    input_error("num_threads must be in [1, " + std::to_string(kMaxThreads) + "], got " +
                std::to_string(n));
  }
  threads_.store(n);
}

void Model::load(const std::uint8_t* data, std::size_t size, const ModelOptions& opts) {
  const auto t0 = Clock::now();
  set_num_threads(opts.num_threads);
  if (opts.isa) {
    isa_ = *opts.isa;
  } else {
    try {
      isa_ = active_isa();  // the best this CPU runs, or the BNNFLOW_ISA environment variable
    } catch (const std::invalid_argument& e) {
      throw Error(ErrorKind::kInput, std::string("environment variable BNNFLOW_ISA: ") + e.what());
    } catch (const std::runtime_error& e) {
      throw Error(ErrorKind::kUnsupported, e.what());
    }
  }
  if (opts.fuse) {
    fuse_ = *opts.fuse;
  } else if (const char* env = std::getenv("BNNFLOW_FUSE")) {
    const std::string v(env);
    if (v != "0" && v != "1") {
      throw Error(ErrorKind::kInput,
                  "environment variable BNNFLOW_FUSE: expected 0 or 1, got " + quote(v));
    }
    fuse_ = v == "1";
  }
  if (const char* env = std::getenv("BNNFLOW_BAND_BYTES")) {
    const std::string v(env);
    char* end = nullptr;
    const unsigned long long b = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] < '0' || v[0] > '9' || *end != '\0' || b > (1ull << 30)) {
      throw Error(ErrorKind::kInput,
                  "environment variable BNNFLOW_BAND_BYTES: expected an integer in [0, 2^30] "
                  "(0: no band chains), got " + quote(v));
    }
    band_bytes_ = static_cast<std::size_t>(b);
  }
  if (!isa_supported(isa_)) {
    throw Error(ErrorKind::kUnsupported,
                std::string("isa '") + isa_name(isa_) + "' is not supported by this CPU");
  }
  static const std::uint8_t kEmpty = 0;
  container_ = read_container(data == nullptr ? &kEmpty : data, size);
  const int version = check_version(container_);
  const std::string& text = container_.metadata.at(kGraphKey);
  const Json doc = parse_json(text.data(), text.size(), kGraphKey);
  if (!doc.is_object() || doc.size() != 3 || !doc.contains("format_version") ||
      !doc.contains("producer") || !doc.contains("graph")) {
    format_error(std::string(kGraphKey) +
                     ": expected an object with exactly format_version, producer, graph",
                 kGraphKey);
  }
  const Json& fv = doc["format_version"];
  if (!fv.is_number() || fv.get<double>() != version) {
    format_error(std::string(kGraphKey) + ".format_version " + short_repr(fv) + " differs from " +
                     kVersionKey + " " + std::to_string(version),
                 "format_version");
  }
  if (!doc["producer"].is_string()) {
    format_error(std::string(kGraphKey) + ".producer: expected a string", "producer");
  }
  producer_ = doc["producer"].get<std::string>();
  graph_ = graph_from_json(doc["graph"]);
  valid_ = validate(graph_, container_);
  timings_.load_seconds = seconds_since(t0);

  const auto t1 = Clock::now();
  try {
    full_.reserve(valid_.ops.size());
    for (const ValidOp& op : valid_.ops) {
      full_.push_back(make_step(valid_, op, isa_));
      full_.back().name = graph_.ops[op.index].name;
    }
    if (fuse_) {
      build_fused_program();
    } else {
      fast_ = full_;
    }
  } catch (const std::invalid_argument& e) {
    throw Error(ErrorKind::kUnsupported, e.what());
  }
  full_plan_ = plan_program(full_, valid_);
  fast_plan_ = plan_program(fast_, valid_);
  timings_.prepare_seconds = seconds_since(t1);
}

namespace {

// Ops reading each tensor, as positions in g.ops (in order).
std::vector<std::vector<std::size_t>> readers_of(const ValidGraph& g) {
  std::vector<std::vector<std::size_t>> r(g.tensors.size());
  for (std::size_t i = 0; i < g.ops.size(); ++i) {
    for (int t : g.ops[i].inputs) {
      auto& list = r[static_cast<std::size_t>(t)];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
  }
  return r;
}

// The residual block starting at bconv position i (docs/runtime.md "Fused steps"), or none
// (chain.add == nullptr). *last: the position of the add (or the pwl), where the fused step
// runs: both inputs are ready there and nothing else reads the tensors in between.
ResidualChain residual_chain(const ValidGraph& g,
                             const std::vector<std::vector<std::size_t>>& readers,
                             std::size_t i, std::size_t* last) {
  ResidualChain c;
  const ValidOp& conv = g.ops[i];
  auto only_reader = [&](int t) -> const ValidOp* {
    const auto& r = readers[static_cast<std::size_t>(t)];
    return t != g.output && r.size() == 1 ? &g.ops[r[0]] : nullptr;
  };
  if (conv.kind != OpKind::kBconv || conv.attrs.epilogue != "int8") return c;
  const ValidOp* add = only_reader(conv.output);
  if (add == nullptr || add->kind != OpKind::kAdd || add->inputs[0] == add->inputs[1]) return c;
  c.bconv = &conv;
  c.add = add;
  *last = readers[static_cast<std::size_t>(conv.output)][0];
  int result = add->output;
  const ValidOp* pwl = only_reader(result);
  if (pwl != nullptr && pwl->kind == OpKind::kPwl) {
    c.pwl = pwl;
    *last = readers[static_cast<std::size_t>(result)][0];
    result = pwl->output;
  }
  // A pack of the result joins the step wherever it stands in the graph: the step runs where
  // the result is ready, so the bits exist before the pack's position (before every reader).
  for (std::size_t k : readers[static_cast<std::size_t>(result)]) {
    const ValidOp& pack = g.ops[k];
    if (pack.kind != OpKind::kPack || pack.output == g.output) continue;
    c.pack = &pack;
    break;
  }
  return c;
}

}  // namespace

// The program run() executes: fused steps where the graph allows (docs/runtime.md).
void Model::build_fused_program() {
  const std::size_t n = valid_.ops.size();
  const auto readers = readers_of(valid_);
  std::vector<bool> absorbed(n, false);
  std::vector<int> chain_at(n, -1);
  std::vector<ResidualChain> chains;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t last = i;
    const ResidualChain c = residual_chain(valid_, readers, i, &last);
    if (c.add == nullptr) continue;
    // Both inputs of an add may be such convolutions (a binary downsample shortcut): the
    // first one takes the add, the other stays a step of its own.
    const auto at = [&](const ValidOp* op) {
      return static_cast<std::size_t>(op - valid_.ops.data());
    };
    if (absorbed[at(c.add)] || chain_at[at(c.add)] >= 0) continue;
    for (const ValidOp* op : {c.bconv, c.add, c.pwl, c.pack}) {
      if (op != nullptr) absorbed[at(op)] = true;
    }
    absorbed[last] = false;
    chain_at[last] = static_cast<int>(chains.size());
    chains.push_back(c);
  }
  // Band chains (band_steps.h) among the other ops: each op's output read only by the next;
  // the step runs at the last op's position. conv2d_int8 + requant32 alone stays the pair step.
  std::vector<int> band_at(n, -1);
  std::vector<std::vector<const ValidOp*>> bands;
  std::vector<bool> in_band(n, false);
  const bool pairs_only = band_bytes_ == 0;  // BNNFLOW_BAND_BYTES=0: conv2d_int8 + requant32
  auto free_op = [&](std::size_t j) {
    return !absorbed[j] && chain_at[j] < 0 && !in_band[j] && is_band_op(valid_, valid_.ops[j]);
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (!free_op(i)) continue;
    std::vector<std::size_t> at{i};
    for (;;) {
      if (pairs_only && (at.size() == 2 || valid_.ops[i].kind != OpKind::kConv2dInt8)) break;
      const int t = valid_.ops[at.back()].output;
      const auto& r = readers[static_cast<std::size_t>(t)];
      if (t == valid_.output || r.size() != 1 || !free_op(r[0])) break;
      if (pairs_only && valid_.ops[r[0]].kind != OpKind::kRequant32) break;
      at.push_back(r[0]);
    }
    if (at.size() < 2) continue;
    std::vector<const ValidOp*> ops;
    for (std::size_t j : at) {
      in_band[j] = true;
      absorbed[j] = j != at.back();
      ops.push_back(&valid_.ops[j]);
    }
    band_at[at.back()] = static_cast<int>(bands.size());
    bands.push_back(std::move(ops));
  }
  auto name_of = [&](const ValidOp* op) { return graph_.ops[op->index].name; };
  for (std::size_t i = 0; i < n; ++i) {
    if (absorbed[i]) continue;
    if (chain_at[i] >= 0) {
      const ResidualChain& c = chains[static_cast<std::size_t>(chain_at[i])];
      const std::size_t conv = static_cast<std::size_t>(c.bconv - valid_.ops.data());
      fast_.push_back(make_residual_step(valid_, c, full_[conv], isa_));
      std::string name = name_of(c.bconv) + "+" + name_of(c.add);
      if (c.pwl != nullptr) name += "+" + name_of(c.pwl);
      if (c.pack != nullptr) name += "+" + name_of(c.pack);
      fast_.back().name = name;
      continue;
    }
    if (band_at[i] >= 0) {
      const std::vector<const ValidOp*>& ops = bands[static_cast<std::size_t>(band_at[i])];
      std::string name;
      for (const ValidOp* op : ops) name += (name.empty() ? "" : "+") + name_of(op);
      if (ops.size() == 2 && ops[0]->kind == OpKind::kConv2dInt8 &&
          ops[1]->kind == OpKind::kRequant32) {
        fast_.push_back(make_conv_requant_step(valid_, *ops[0], *ops[1], isa_));
      } else {
        fast_.push_back(make_band_chain_step(valid_, ops, isa_, band_bytes_));
      }
      fast_.back().name = name;
      continue;
    }
    fast_.push_back(full_[i]);
  }
}

std::size_t Model::max_batch() const {
  // Keep batch * (arena or any tensor) far from overflow.
  const std::size_t per = std::max({fast_plan_.peak, full_plan_.peak,
                                    input_info().sample_bytes(), std::size_t{1}});
  return (std::size_t{1} << 40) / per;
}

// 0 for a batch run() refuses (0 or above max_batch()), so a caller's malloc of the result
// can never be a silently wrapped size.
std::size_t Model::input_bytes(std::size_t batch) const {
  return batch < 1 || batch > max_batch() ? 0 : batch * input_info().sample_bytes();
}
std::size_t Model::output_bytes(std::size_t batch) const {
  return batch < 1 || batch > max_batch() ? 0 : batch * output_info().sample_bytes();
}

void Model::check_input(const void* input, std::size_t batch) const {
  check_batch(input, batch);
  check_values(input, batch);
}

void Model::check_batch(const void* input, std::size_t batch) const {
  const TensorInfo& in = input_info();
  if (batch < 1) input_error("input " + quote(in.name) + ": batch must be >= 1, got 0");
  if (batch > max_batch()) {
    input_error("input " + quote(in.name) + ": batch " + std::to_string(batch) + " is too large");
  }
  if (input == nullptr) input_error("input " + quote(in.name) + ": NULL data");
}

void Model::check_values(const void* input, std::size_t batch) const {
  const TensorInfo& in = input_info();
  if (in.dtype == ActDType::kFloat32) {
    const float* x = static_cast<const float*>(input);
    const std::size_t n = batch * static_cast<std::size_t>(in.sample_elements());
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isfinite(x[i])) continue;
      std::vector<std::int64_t> index(in.shape.size());
      std::size_t rest = i;
      for (std::size_t d = in.shape.size(); d-- > 1;) {
        index[d] = static_cast<std::int64_t>(rest % static_cast<std::size_t>(in.shape[d]));
        rest /= static_cast<std::size_t>(in.shape[d]);
      }
      index[0] = static_cast<std::int64_t>(rest);
      input_error("input " + quote(in.name) + ": non-finite value " +
                  (std::isnan(x[i]) ? std::string("nan") : x[i] > 0 ? "inf" : "-inf") +
                  " at index " + shape_str(index) +
                  "; float inputs must be finite (NaN/inf give unspecified results, "
                  "docs/numerics.md \xC2\xA7" "5)");
    }
  }
}

std::unique_ptr<Model::Context> Model::acquire(std::size_t arena_bytes) const {
  const int threads = threads_.load();
  std::unique_ptr<Context> ctx;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = free_.size(); i-- > 0;) {
      if (free_[i]->threads == threads) {
        ctx = std::move(free_[i]);
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
  }
  if (!ctx) ctx = std::make_unique<Context>(threads);
  if (ctx->arena.size() < arena_bytes) ctx->arena = AlignedBuffer(arena_bytes);
  return ctx;
}

void Model::release(std::unique_ptr<Context> ctx) const {
  constexpr std::size_t kKeep = 4;
  std::lock_guard<std::mutex> lock(mutex_);
  const int threads = threads_.load();
  // Contexts of an earlier thread count would never be taken again; drop them, so that after
  // set_num_threads the free list refills with pools of the new size.
  free_.erase(std::remove_if(free_.begin(), free_.end(),
                             [threads](const std::unique_ptr<Context>& c) {
                               return c->threads != threads;
                             }),
              free_.end());
  if (ctx->threads != threads) return;
  if (free_.size() < kKeep) free_.push_back(std::move(ctx));
}

void Model::run(const void* input, std::size_t batch, float* output,
                std::vector<double>* step_seconds) const {
  check_batch(input, batch);
  if (output == nullptr) input_error("output: NULL data");
  std::unique_ptr<Context> ctx = acquire(batch * fast_plan_.peak);
  std::exception_ptr bad_input;
  {
    // The pool's workers stay awake for the whole run (none sleeps between two steps), and a
    // sleeping one is woken now, while the input is checked, so that it is up by the first
    // step (threadpool.h, "Runs"). The guard ends before release(): the context may be
    // dropped there, or taken by another run at once.
    const ThreadPool::Awake awake(ctx->pool);
    try {
      check_values(input, batch);
    } catch (...) {
      bad_input = std::current_exception();
    }
    if (!bad_input) run_steps(*ctx, input, batch, output, step_seconds);
  }
  release(std::move(ctx));  // after a bad input too: the context (and its pool) stays usable
  if (bad_input) std::rethrow_exception(bad_input);
}

void Model::run_steps(Context& ctx, const void* input, std::size_t batch, float* output,
                      std::vector<double>* step_seconds) const {
  std::uint8_t* arena = ctx.arena.data();
  const auto& offset = fast_plan_.offset;
  auto addr = [&](int t) -> const void* {
    return t == 0 ? input : arena + batch * offset[static_cast<std::size_t>(t)];
  };
  if (step_seconds) step_seconds->assign(fast_.size(), 0.0);
  for (std::size_t i = 0; i < fast_.size(); ++i) {
    const Step& s = fast_[i];
    ctx.ins.clear();
    for (int t : s.inputs) ctx.ins.push_back(addr(t));
    if (s.extra_output >= 0) {
      ctx.ins.push_back(arena + batch * offset[static_cast<std::size_t>(s.extra_output)]);
    }
    void* out = arena + batch * offset[static_cast<std::size_t>(s.output)];
    if (step_seconds) {
      const auto t0 = Clock::now();
      s.run(ctx.ins.data(), out, batch, ctx.pool);
      (*step_seconds)[i] = seconds_since(t0);
    } else {
      s.run(ctx.ins.data(), out, batch, ctx.pool);
    }
  }
  std::memcpy(output, addr(valid_.output), output_bytes(batch));
}

Activations Model::run_all(const void* input, std::size_t batch) const {
  check_input(input, batch);
  Activations acts;
  acts.batch = batch;
  acts.offset.resize(valid_.tensors.size());
  std::size_t total = 0;
  for (std::size_t t = 0; t < valid_.tensors.size(); ++t) {
    acts.offset[t] = total;
    total += round_up(valid_.tensors[t].sample_bytes());
  }
  acts.data = AlignedBuffer(batch * total);
  std::memcpy(acts.data.data(), input, input_bytes(batch));
  std::unique_ptr<Context> ctx = acquire(0);
  {
    const ThreadPool::Awake awake(ctx->pool);  // ends before release(), as in run()
    for (const Step& s : full_) {
      ctx->ins.clear();
      for (int t : s.inputs) ctx->ins.push_back(acts.tensor(t));
      s.run(ctx->ins.data(), const_cast<void*>(acts.tensor(s.output)), batch, ctx->pool);
    }
  }
  release(std::move(ctx));
  return acts;
}

void Model::run_op(std::size_t index, const void* const* inputs, std::size_t batch,
                   void* output) const {
  if (index >= full_.size()) {
    input_error("op index " + std::to_string(index) + " out of range (the graph has " +
                std::to_string(full_.size()) + " ops)");
  }
  if (batch < 1) input_error("run_op: batch must be >= 1");
  const Step& s = full_[index];
  for (std::size_t i = 0; i < s.inputs.size(); ++i) {
    if (inputs[i] == nullptr) input_error("run_op: input " + std::to_string(i) + " is NULL");
  }
  if (output == nullptr) input_error("run_op: output is NULL");
  std::unique_ptr<Context> ctx = acquire(0);
  s.run(inputs, output, batch, ctx->pool);
  release(std::move(ctx));
}

}  // namespace bnnflow::engine
