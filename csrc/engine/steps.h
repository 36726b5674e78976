// Binding validated ops to the engine kernels, once per model: what the Python binders of
// bnnflow.runtime.engine_ops did, in C++. Weights are prepared for the model's ISA here
// (binary weights re-arranged for the micro-kernel, int8/float conv weights packed, shifts
// widened); a Step's run() then only fills the kernel's argument struct and calls it.
// Steps keep no per-call state: several threads may run the same Step at once. Argument
// structs are filled field by field (never positionally), so a kernel header that gains a
// field fails to compile or leaves it value-initialised instead of shifting the others.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "common/threadpool.h"
#include "engine/validate.h"

namespace bnnflow::engine {

// run(inputs, output, batch, pool): inputs[i] is the data of tensor inputs[i], output the
// buffer of the output tensor, both for `batch` samples.
using StepFn = std::function<void(const void* const* inputs, void* output, std::size_t batch,
                                  ThreadPool& pool)>;

struct Step {
  std::string name;             // the op's name, "a+b" for a fused pair
  std::string type;             // the op type, "conv2d_int8+requant32" for a fused pair
  std::vector<int> inputs;      // tensor ids
  int output = -1;              // tensor id
  // A second output (tensor id; -1: none): the packed bits of a fused pack. run() then gets
  // its buffer as inputs[inputs.size()].
  int extra_output = -1;
  std::vector<std::size_t> ops; // graph op indices it runs
  StepFn run;
  // What the step prepared once (a bconv's weights re-arranged for the ISA), for a fused step
  // built from it to share instead of preparing again; opaque outside steps.cc.
  std::shared_ptr<const void> prepared;
};

// One step computing op `op` of `g` on `isa`. Throws Error(kUnsupported) when this build has
// no kernel of that ISA for the op.
Step make_step(const ValidGraph& g, const ValidOp& op, Isa isa);

// conv2d_int8 followed by the requant32 reading it, as one step (int8 out; the int32 tensor
// never exists). Bit-identical to the two steps.
Step make_conv_requant_step(const ValidGraph& g, const ValidOp& conv, const ValidOp& requant,
                            Isa isa);

// A fused residual block (docs/runtime.md, "Fused steps"): a binary convolution with an int8
// epilogue, the int8 add that is its only reader (the other input is the residual), then
// optionally the pwl that is the sum's only reader and a pack of the result, as one step:
// the int8 tensors in between never exist. Inputs {conv input, residual}; output the last
// int8 tensor; extra_output the pack's bits. Bit-identical to the separate steps.
struct ResidualChain {
  const ValidOp* bconv = nullptr;
  const ValidOp* add = nullptr;
  const ValidOp* pwl = nullptr;   // optional
  const ValidOp* pack = nullptr;  // optional
};
// conv_step: the bconv's own step (make_step), whose prepared weights the fused step shares.
Step make_residual_step(const ValidGraph& g, const ResidualChain& chain, const Step& conv_step,
                        Isa isa);

}  // namespace bnnflow::engine
