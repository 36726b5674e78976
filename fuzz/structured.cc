// libFuzzer custom mutator: mostly structure-aware mutations of the .bnn header and graph
// (mutator.h), sometimes libFuzzer's own byte mutations.
#include <cstddef>
#include <cstdint>

#include "mutator.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  if (seed % 5 == 0) return LLVMFuzzerMutate(data, size, max_size);
  return bnnflow_fuzz::mutate_bnn(data, size, max_size, seed, LLVMFuzzerMutate);
}
