// conv2d_int8 weights packed once per model for the ISA's kernel: shared by the op's own step,
// the fused conv2d_int8+requant32 pair (steps.cc) and the band chains (band_steps.cc).
#pragma once
#include <memory>

#include "common/cpu_features.h"
#include "engine/buffer.h"
#include "engine/validate.h"
#include "kernels/conv_int8/conv_int8.h"

namespace bnnflow::engine {

struct PreparedConvInt8 {
  glue::Conv2dInt8Args proto{};  // every field but x, y, N (and rq) filled from the op
  AlignedBuffer packed;
  decltype(&glue::scalar::conv2d_int8_packed) fn = nullptr;
};

// Throws std::invalid_argument (BNNFLOW_GLUE_PICK) when this build has no kernel for `isa`.
std::shared_ptr<PreparedConvInt8> prepare_conv_int8(const ValidGraph& g, const ValidOp& op,
                                                    Isa isa);

}  // namespace bnnflow::engine
