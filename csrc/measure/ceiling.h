// Micro-kernels that measure this CPU's xor + popcount + accumulate ceiling: one operand streams
// from an L1-resident buffer, the other is four register-held words (as the broadcast
// activation words of the convolution's register tile). Each pass over `words` words performs
// words · 32 · 4 binary multiply-accumulates. Measurement code: built into bnnflow_measure (the
// Python extension and the C++ tests), not into the engine library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/cpu_features.h"
#include "common/isa_list.h"

namespace bnnflow {

struct CeilingKernel {
  const char* method;  // e.g. "avx2-nibble-lut"
  Isa isa;
  int macs_per_word;   // binary MACs per buffer word and pass (32 bits x operands)
  // Runs `passes` passes over w[0..words) (words a multiple of 128, <= 8192); returns a checksum.
  uint64_t (*run)(const uint32_t* w, size_t words, int passes);
  // The buffer holds nibble-split vectors: 8 words (v & 0x0f0f0f0f) then the same 8 words'
  // ((v >> 4) & 0x0f0f0f0f), as the split-nibble bconv kernels store weights and activations.
  bool split_nibbles;
};

// One ISA's kernels: a static array (the ISA files return no std::vector, whose inline code
// would be emitted with the ISA's flags; docs/development.md, "Per-ISA objects").
struct CeilingKernelList {
  const CeilingKernel* kernels;
  size_t count;
};

BNNFLOW_DECLARE_ISAS(CeilingKernelList ceiling_kernels();)

// Every ceiling kernel of an ISA compiled into this build.
std::vector<CeilingKernel> ceiling_kernels(Isa isa);

struct CeilingResult {
  const char* method;
  double gbmacs;  // median over `repeats` timed runs, G binary MACs per second, one thread
  uint64_t checksum;
};

// Times each kernel of `isa` on a buffer of `words` words: `repeats` runs of `passes` passes.
std::vector<CeilingResult> measure_ceiling(Isa isa, size_t words, int passes, int repeats);

}  // namespace bnnflow
