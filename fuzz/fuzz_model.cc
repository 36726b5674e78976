// Fuzz target of the native loader and executor, through the C API only (docs/fuzzing.md).
//
// One input is one candidate .bnn file. It is loaded with bnnflow_model_create_from_buffer;
// when it loads, every query of the C API is called and checked against the others, and the
// model runs on a deterministic input derived from the same bytes, at batch 1 and batch 2.
// Any crash, sanitizer report, hang, or a broken C API contract (a status outside the enum, an
// empty or non-UTF-8 error message, sizes that disagree with the specs, a batch-2 row that is
// not bit-identical to the batch-1 run of the same sample) aborts the process: libFuzzer
// reports it and saves the input.
//
// Cost bound: a valid model can legitimately ask for a lot of memory and work (the validator
// accepts up to 2^28 elements per sample). Models whose activation arena exceeds
// kMaxArenaBytes per sample or whose input exceeds kMaxInputBytes are loaded and queried but
// not run, so one input runs in milliseconds.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bnnflow/bnnflow.h"

namespace {

constexpr size_t kMaxArenaBytes = size_t{256} << 10;
constexpr size_t kMaxInputBytes = size_t{64} << 10;
constexpr int64_t kMaxClasses = 1 << 16;

long g_loaded = 0, g_ran = 0;  // for the replay driver's summary

[[noreturn]] void contract(const char* what) {
  std::fprintf(stderr, "bnnflow fuzz: C API contract broken: %s\n", what);
  std::abort();
}

void expect(bool ok, const char* what) {
  if (!ok) contract(what);
}

bool valid_utf8(const char* s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : -1;
    if (n < 0) return false;
    ++p;
    for (int k = 0; k < n; ++k, ++p) {
      if ((*p & 0xC0) != 0x80) return false;
    }
  }
  return true;
}

// A failing call: a known status with a non-empty, valid UTF-8 message.
void expect_error(bnnflow_status st, const char* what) {
  expect(st >= BNNFLOW_ERROR_FORMAT && st <= BNNFLOW_ERROR_INTERNAL, what);
  const char* msg = bnnflow_last_error();
  expect(msg != nullptr && msg[0] != '\0', "failure without a message");
  expect(valid_utf8(msg), "error message is not valid UTF-8");
  // A guard that every status is a deliberate error, not an internal one.
  expect(st != BNNFLOW_ERROR_INTERNAL, "BNNFLOW_ERROR_INTERNAL (an unexpected exception)");
}

uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

uint64_t splitmix(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t dtype_bytes(bnnflow_dtype d) {
  switch (d) {
    case BNNFLOW_DTYPE_INT8:
    case BNNFLOW_DTYPE_UINT8: return 1;
    default: return 4;
  }
}

// The input of `batch` samples: bytes of the fuzz input mixed with the hash; float32 inputs
// get finite values in [-8, 8).
std::vector<uint8_t> make_input(const bnnflow_tensor_spec& spec, size_t bytes, uint64_t seed,
                                const uint8_t* data, size_t size) {
  std::vector<uint8_t> x(bytes);
  for (size_t i = 0; i < bytes; ++i) {
    x[i] = static_cast<uint8_t>(splitmix(&seed) ^ (size ? data[i % size] : 0));
  }
  if (spec.dtype == BNNFLOW_DTYPE_FLOAT32) {
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
      float f = static_cast<float>(static_cast<int8_t>(x[i])) / 16.0f;
      std::memcpy(&x[i], &f, 4);
    }
  }
  return x;
}

void check_specs(const bnnflow_model* m, bnnflow_tensor_spec* in, int64_t* classes) {
  bnnflow_tensor_spec out;
  expect(bnnflow_model_input_spec(m, in) == BNNFLOW_OK, "input_spec failed");
  expect(bnnflow_model_output_spec(m, &out) == BNNFLOW_OK, "output_spec failed");
  expect(in->name != nullptr && out.name != nullptr, "spec without a name");
  expect(in->rank == 2 || in->rank == 4, "input rank not 2 or 4");
  expect(in->shape[0] == -1, "input batch dimension not -1");
  expect(in->dtype >= BNNFLOW_DTYPE_INT8 && in->dtype <= BNNFLOW_DTYPE_FLOAT32,
         "input dtype outside the enum (or packed)");
  size_t per_sample = dtype_bytes(in->dtype);
  for (int k = 1; k < in->rank; ++k) {
    expect(in->shape[k] > 0, "input dimension <= 0");
    per_sample *= static_cast<size_t>(in->shape[k]);
  }
  expect(bnnflow_model_input_bytes(m, 1) == per_sample, "input_bytes(1) != product of spec");
  expect(bnnflow_model_input_bytes(m, 2) == 2 * per_sample, "input_bytes(2) != 2 x");
  *classes = bnnflow_model_num_classes(m);
  expect(out.dtype == BNNFLOW_DTYPE_FLOAT32 && out.rank == 2 && out.shape[0] == -1 &&
             out.shape[1] == *classes && *classes > 0,
         "output spec is not float32 [-1, classes]");
  expect(bnnflow_model_output_bytes(m, 2) == 2 * 4 * static_cast<size_t>(*classes),
         "output_bytes(2) != 2 x classes x 4");
  expect(bnnflow_model_class_name(m, -1) == nullptr, "class_name(-1) not NULL");
  expect(bnnflow_model_class_name(m, *classes) == nullptr, "class_name(classes) not NULL");
  if (*classes <= kMaxClasses) {
    for (int64_t c = 0; c < *classes; ++c) {
      const char* name = bnnflow_model_class_name(m, c);
      expect(name == nullptr || valid_utf8(name), "class name not UTF-8");
    }
  }
  const size_t steps = bnnflow_model_num_steps(m);
  for (size_t s = 0; s < steps; ++s) {
    expect(bnnflow_model_step_name(m, s) != nullptr && bnnflow_model_step_type(m, s) != nullptr,
           "step without a name or type");
  }
  expect(bnnflow_model_step_name(m, steps) == nullptr, "step_name past the end not NULL");
  expect(bnnflow_model_isa(m) != nullptr, "model isa NULL");
}

void run_model(bnnflow_model* m, const uint8_t* data, size_t size, uint64_t hash) {
  bnnflow_tensor_spec in;
  int64_t classes = 0;
  check_specs(m, &in, &classes);
  const size_t in1 = bnnflow_model_input_bytes(m, 1);
  if (in1 > kMaxInputBytes || bnnflow_model_arena_bytes(m) > kMaxArenaBytes ||
      classes > kMaxClasses) {
    return;  // valid but too big to run in milliseconds
  }
  ++g_ran;
  const size_t nc = static_cast<size_t>(classes);
  std::vector<uint8_t> x = make_input(in, 2 * in1, hash, data, size);
  std::vector<float> y1(nc), y2(2 * nc), y2b(2 * nc);
  std::vector<double> seconds(bnnflow_model_num_steps(m) + 1);

  expect(bnnflow_model_run(m, x.data(), 1, y1.data()) == BNNFLOW_OK, "run batch 1 failed");
  expect(bnnflow_model_run_profiled(m, x.data(), 2, y2.data(), seconds.data()) == BNNFLOW_OK,
         "run_profiled batch 2 failed");
  expect(std::memcmp(y1.data(), y2.data(), 4 * nc) == 0,
         "batch-2 row 0 differs from the batch-1 run of the same sample");
  // Another thread count: the same logits, bit for bit.
  const int threads = bnnflow_model_num_threads(m) == 1 ? 2 : 1;
  expect(bnnflow_model_set_num_threads(m, threads) == BNNFLOW_OK, "set_num_threads failed");
  expect(bnnflow_model_run(m, x.data(), 2, y2b.data()) == BNNFLOW_OK, "run batch 2 failed");
  expect(std::memcmp(y2.data(), y2b.data(), 8 * nc) == 0, "logits depend on the thread count");

  // Bad arguments are errors, not crashes.
  expect_error(bnnflow_model_run(m, x.data(), 0, y1.data()), "run with batch 0");
  expect_error(bnnflow_model_run(m, nullptr, 1, y1.data()), "run with NULL input");
  expect_error(bnnflow_model_run(m, x.data(), 1, nullptr), "run with NULL output");
  expect_error(bnnflow_model_set_num_threads(m, 0), "set_num_threads(0)");
  if (in.dtype == BNNFLOW_DTYPE_FLOAT32 && in1 >= 4) {
    const float nan = std::nanf("");
    std::memcpy(&x[in1 - 4], &nan, 4);
    expect(bnnflow_model_run(m, x.data(), 1, y1.data()) == BNNFLOW_ERROR_INVALID_ARGUMENT,
           "a NaN input is not rejected");
  }
}

}  // namespace

// Inputs so far that loaded, and that also ran.
extern "C" void bnnflow_fuzz_counts(long* loaded, long* ran) {
  *loaded = g_loaded;
  *ran = g_ran;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint64_t hash = fnv1a(data, size);
  // The ISA and thread count of this input: a function of its bytes (reproducible).
  static const char* const kIsas[] = {nullptr, "scalar", "avx2", "avx512", "neon"};
  const char* isa = kIsas[hash % 5];
  if (isa != nullptr && !bnnflow_isa_supported(isa)) isa = nullptr;
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  opts.isa = isa;
  opts.num_threads = 1 + static_cast<int>((hash >> 8) % 2);

  bnnflow_model* m = reinterpret_cast<bnnflow_model*>(&opts);  // must be overwritten
  const bnnflow_status st = bnnflow_model_create_from_buffer(data, size, &opts, &m);
  if (st != BNNFLOW_OK) {
    expect(m == nullptr, "failed create left *model non-NULL");
    expect_error(st, "create_from_buffer");
    expect(st == BNNFLOW_ERROR_FORMAT || st == BNNFLOW_ERROR_OUT_OF_MEMORY,
           "a bad buffer is not BNNFLOW_ERROR_FORMAT");
    return 0;
  }
  expect(m != nullptr, "create returned OK without a model");
  ++g_loaded;
  expect(bnnflow_model_num_threads(m) == opts.num_threads, "num_threads not the option");
  run_model(m, data, size, hash);
  bnnflow_model_destroy(m);
  return 0;
}
