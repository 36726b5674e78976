// Peak int8 multiply-accumulate rate of one core, measured with the instruction the int8
// convolutions are built on: vpmaddwd (AVX2: 16 MACs per ymm instruction), vpdpbusd
// (AVX-512 VNNI: 64 MACs per zmm instruction), vmlal_s16 (NEON: 4 MACs per instruction).
// Many independent accumulator chains hide the latency, so the loop runs at the
// instruction's throughput. Used by the glue benchmark to express a convolution's speed as a
// fraction of peak.
#pragma once
#include <cstdint>

#include "kernels/glue_common/glue.h"

namespace bnnflow::glue {

// Runs `iterations` rounds of the peak loop; returns the number of int8 MACs it performed
// (the caller times it). `sink` receives a value derived from the accumulators so the loop
// cannot be optimised away.
#define BNNFLOW_GLUE_MAC_PEAK_KERNELS \
  std::uint64_t mac_peak_loop(std::uint64_t iterations, std::int32_t* sink);
BNNFLOW_GLUE_DECLARE_ISAS(BNNFLOW_GLUE_MAC_PEAK_KERNELS)

}  // namespace bnnflow::glue
