#include "kernels/pack/pack.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace bnnflow {

const PackKernels& pack_kernels(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return scalar::pack_kernels();
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::kAvx2:
      return avx2::pack_kernels();
    case Isa::kAvx512:
      return avx512::pack_kernels();
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return neon::pack_kernels();
#endif
    default:
      break;
  }
  throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                              "' is not compiled into this build");
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
