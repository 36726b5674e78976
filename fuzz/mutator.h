// Structure-aware mutation of a .bnn file (docs/fuzzing.md): the safetensors header and the
// graph JSON inside its __metadata__ are parsed, one node of either document (an attr, a
// shape, a dtype, a data offset, an op, a tensor name, ...) is changed, and the file is written
// back with a correct header length, so the mutant gets past the JSON parser and reaches the
// validator and the executor. Tensor data bytes are mutated in place too.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bnnflow_fuzz {

// Byte-level mutation of data[0, size) (capacity max_size); returns the new size. libFuzzer's
// LLVMFuzzerMutate, or a simple fallback in the replay driver.
using RawMutate = size_t (*)(uint8_t* data, size_t size, size_t max_size);

// Mutates the .bnn file in data[0, size) in place (capacity max_size) and returns its new size.
// Inputs that do not parse as a .bnn container get `raw` instead.
size_t mutate_bnn(uint8_t* data, size_t size, size_t max_size, unsigned seed, RawMutate raw);

}  // namespace bnnflow_fuzz
