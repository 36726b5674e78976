// Binarisation (docs/numerics.md §2): x [pixels][C] (int8 or float32) -> packed uint32
// [pixels][G*Wg], bit of channel c = x[c] < t[c], each group's Cg = C/G channels packed into
// its own Wg = ceil(Cg/32) words, little-endian, pad bits 0.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/cpu_features.h"
#include "common/isa_list.h"
#include "common/threadpool.h"

namespace bnnflow {

void pack_int8(const int8_t* x, const int32_t* t, size_t pixels, int channels, int groups,
               uint32_t* out, Isa isa, ThreadPool& pool);
void pack_f32(const float* x, const float* t, size_t pixels, int channels, int groups,
              uint32_t* out, Isa isa, ThreadPool& pool);

// One ISA's row kernels: pixels [p0, p1).
struct PackKernels {
  void (*int8)(const int8_t* x, const int32_t* t, size_t p0, size_t p1, int channels,
               int groups, uint32_t* out);
  void (*f32)(const float* x, const float* t, size_t p0, size_t p1, int channels, int groups,
              uint32_t* out);
};

BNNFLOW_DECLARE_ISAS(const PackKernels& pack_kernels();)
const PackKernels& pack_kernels(Isa isa);

}  // namespace bnnflow
