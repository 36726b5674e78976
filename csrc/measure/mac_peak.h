// Peak int8 multiply-accumulate rate of one core, measured with the instruction the int8
// convolutions are built on: vpmaddwd (AVX2: 16 MACs per ymm instruction), vpdpbusd
// (AVX-512 VNNI: 64 MACs per zmm instruction), vmlal_s16 (NEON: 4 MACs per instruction).
// Many independent accumulator chains hide the latency, so the loop runs at the
// instruction's throughput. Used by the glue benchmark to express a convolution's speed as a
// fraction of peak. Measurement code: built into bnnflow_measure (the Python extension and
// the C++ tests), not into the engine library.
#pragma once
#include <cstdint>

#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

// Runs `iterations` rounds of the peak loop; returns the number of int8 MACs it performed
// (the caller times it). `sink` receives a value derived from the accumulators so the loop
// cannot be optimised away.
#define BNNFLOW_GLUE_MAC_PEAK_KERNELS \
  std::uint64_t mac_peak_loop(std::uint64_t iterations, std::int32_t* sink);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_MAC_PEAK_KERNELS)

using MacPeakFn = std::uint64_t (*)(std::uint64_t iterations, std::int32_t* sink);
// The peak loop of `isa`, or nullptr where there is none (scalar, an ISA not built here).
MacPeakFn mac_peak_kernel(Isa isa);

}  // namespace bnnflow::glue
