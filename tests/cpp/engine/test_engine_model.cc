// The native executor from C++ (engine::Model): the committed fixtures (data/, made by
// make_fixtures.py) against the reference logits on every ISA; concurrent runs of one model
// from several threads with different batches give the lone-run answers; run_all and run_op
// agree with run; the arena planner never lets two live tensors share bytes; loader errors are
// engine::Error of the right kind.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixture_data.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/plan.h"

namespace e = bnnflow::engine;

static int failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                            \
    }                                                                        \
  } while (0)

using bnnflow_test::fixture_dir;
using bnnflow_test::read_fixture;

static void test_fixture(const char* name, bnnflow::Isa isa, double tol) {
  e::ModelOptions opts;
  opts.isa = isa;
  opts.num_threads = 2;
  auto m = e::Model::from_file(fixture_dir() + name + ".bnn", opts);
  const auto input = read_fixture(std::string(name) + ".input");
  const auto want_bytes = read_fixture(std::string(name) + ".logits");
  std::vector<float> want(want_bytes.size() / 4);
  std::memcpy(want.data(), want_bytes.data(), want_bytes.size());
  const std::size_t batch = input.size() / m->input_info().sample_bytes();
  CHECK(batch == 3);
  std::vector<float> got(want.size());
  m->run(input.data(), batch, got.data());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(std::fabs(got[i] - want[i]) <= tol * std::max(1.0f, std::fabs(want[i])));
  }
  // run_all holds every activation; its logits are run()'s
  e::Activations acts = m->run_all(input.data(), batch);
  CHECK(std::memcmp(acts.tensor(m->valid().output), got.data(), got.size() * 4) == 0);
  // run_op of the last op on run_all's inputs gives its output
  const std::size_t last = m->valid().ops.size() - 1;
  const e::ValidOp& op = m->valid().ops[last];
  std::vector<const void*> ins;
  for (int t : op.inputs) ins.push_back(acts.tensor(t));
  std::vector<float> out(got.size());
  m->run_op(last, ins.data(), batch, out.data());
  CHECK(std::memcmp(out.data(), got.data(), got.size() * 4) == 0);

  // concurrency: 4 threads, different batches, 25 runs each, on one model
  std::vector<std::vector<std::uint8_t>> xs;
  std::vector<std::vector<float>> expected;
  std::mt19937 rng(7);
  for (std::size_t b = 1; b <= 4; ++b) {
    std::vector<std::uint8_t> x(m->input_bytes(b));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(rng());
    if (m->input_info().dtype == e::ActDType::kFloat32) {  // finite floats
      float* f = reinterpret_cast<float*>(x.data());
      for (std::size_t i = 0; i < x.size() / 4; ++i) f[i] = static_cast<float>(rng() % 2001) / 500.0f - 2.0f;
    }
    std::vector<float> y(m->output_bytes(b) / 4);
    m->run(x.data(), b, y.data());
    xs.push_back(std::move(x));
    expected.push_back(std::move(y));
  }
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> y(expected[t].size());
      for (int r = 0; r < 25; ++r) {
        m->run(xs[t].data(), static_cast<std::size_t>(t + 1), y.data());
        if (std::memcmp(y.data(), expected[t].data(), y.size() * 4) != 0) ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int w : wrong) CHECK(w == 0);
}

// Random lifetimes: no two tensors live at the same step overlap in the arena.
static void test_planner() {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 60);
    std::vector<std::string> names(n);
    std::vector<e::Lifetime> lts;
    for (int i = 0; i < n; ++i) {
      names[i] = "t" + std::to_string(i);
      const int first = static_cast<int>(rng() % 40);
      const int last = first + static_cast<int>(rng() % (rng() % 4 ? 3 : 40));
      lts.push_back({i, 1 + rng() % 5000, first, last, &names[i]});
    }
    const e::ArenaPlan plan = e::place(lts, static_cast<std::size_t>(n));
    for (int a = 0; a < n; ++a) {
      CHECK(plan.offset[a] % e::kAlign == 0);
      CHECK(plan.offset[a] + lts[a].size <= plan.peak);
      for (int b = a + 1; b < n; ++b) {
        const bool time = lts[a].first <= lts[b].last && lts[b].first <= lts[a].last;
        const bool mem = plan.offset[a] < plan.offset[b] + e::round_up(lts[b].size) &&
                         plan.offset[b] < plan.offset[a] + e::round_up(lts[a].size);
        CHECK(!(time && mem));
      }
    }
  }
}

static void test_errors() {
  auto kind_of = [](auto&& fn) {
    try {
      fn();
    } catch (const e::Error& err) {
      CHECK(std::strlen(err.what()) > 0);
      return static_cast<int>(err.kind());
    }
    return 0;
  };
  CHECK(kind_of([] { e::Model::from_file(fixture_dir() + "missing.bnn", {}); }) ==
        static_cast<int>(e::ErrorKind::kIo));
  CHECK(kind_of([] { e::Model::from_file(fixture_dir() + "digit.pgm", {}); }) ==
        static_cast<int>(e::ErrorKind::kFormat));
  const auto data = read_fixture("tiny_int8.bnn");
  CHECK(kind_of([&] { e::Model::from_buffer(data.data(), data.size() - 1, {}); }) ==
        static_cast<int>(e::ErrorKind::kFormat));
  e::ModelOptions bad;
  bad.num_threads = 0;
  CHECK(kind_of([&] { e::Model::from_buffer(data.data(), data.size(), bad); }) ==
        static_cast<int>(e::ErrorKind::kInput));
  auto m = e::Model::from_buffer(data.data(), data.size(), {});
  std::vector<float> y(10);
  CHECK(kind_of([&] { m->run(data.data(), 0, y.data()); }) == static_cast<int>(e::ErrorKind::kInput));
}

int main() {
  for (bnnflow::Isa isa : bnnflow::supported_isas()) {
    test_fixture("tiny_int8", isa, 0.0);
    test_fixture("tiny_float", isa, 1e-5);
  }
  test_planner();
  test_errors();
  if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
  else std::printf("engine model tests passed\n");
  return failures ? 1 : 0;
}
