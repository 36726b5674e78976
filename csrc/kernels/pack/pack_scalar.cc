// Scalar twin of the pack kernels.
#include "kernels/pack/pack.h"
#include "kernels/pack/pack_common.h"

namespace bnnflow::scalar {
namespace {

void int8(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels, int groups,
          uint32_t* out) {
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [&](const int8_t* xr, int c0) {
    return pack_detail::pack_word_scalar(xr + c0, t + c0, 32);
  });
}

void f32(const float* x, const float* t, size_t p0, size_t p1, int channels, int groups,
         uint32_t* out) {
  pack_detail::pack_rows(x, t, p0, p1, channels, groups, out, [&](const float* xr, int c0) {
    return pack_detail::pack_word_scalar(xr + c0, t + c0, 32);
  });
}

const PackKernels kKernels{&int8, &f32};

}  // namespace

const PackKernels& pack_kernels() { return kKernels; }

}  // namespace bnnflow::scalar
