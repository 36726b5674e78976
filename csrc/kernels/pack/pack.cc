#include "kernels/pack/pack.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/isa_dispatch.h"

namespace bnnflow {

const PackKernels& pack_kernels(Isa isa) {
  return BNNFLOW_ISA_PICK(isa, ::bnnflow, pack_kernels)();
}

namespace {
void check(int channels, int groups) {
  if (groups < 1 || channels < 1 || channels % groups != 0) {
    throw std::invalid_argument("channels must be a positive multiple of groups");
  }
}
// Rows per task: enough work per task to amortise the hand-off.
constexpr size_t kRowsPerTask = 64;
}  // namespace

void pack_int8(const int8_t* x, const int32_t* t, size_t pixels, int channels, int groups,
               uint32_t* out, Isa isa, ThreadPool& pool) {
  check(channels, groups);
  const PackKernels& k = pack_kernels(isa);
  const size_t tasks = (pixels + kRowsPerTask - 1) / kRowsPerTask;
  pool.parallel_for(tasks, [&](size_t task) {
    const size_t p0 = task * kRowsPerTask, p1 = std::min(pixels, p0 + kRowsPerTask);
    k.int8(x, t, p0, p1, channels, groups, out);
  });
}

void pack_f32(const float* x, const float* t, size_t pixels, int channels, int groups,
              uint32_t* out, Isa isa, ThreadPool& pool) {
  check(channels, groups);
  const PackKernels& k = pack_kernels(isa);
  const size_t tasks = (pixels + kRowsPerTask - 1) / kRowsPerTask;
  pool.parallel_for(tasks, [&](size_t task) {
    const size_t p0 = task * kRowsPerTask, p1 = std::min(pixels, p0 + kRowsPerTask);
    k.f32(x, t, p0, p1, channels, groups, out);
  });
}

}  // namespace bnnflow
