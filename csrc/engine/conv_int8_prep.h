// The windowed int8 ops' kernel arguments, built once per model and shared by the ops' own
// steps, the fused conv2d_int8+requant32 pair (steps.cc) and the band chains (band_steps.cc):
// conv2d_int8 weights packed for the ISA's kernel, requant32's folded parameters, and the
// depthwise op's arguments.
#pragma once
#include <memory>

#include "common/cpu_features.h"
#include "engine/buffer.h"
#include "engine/validate.h"
#include "kernels/conv_int8/conv_int8.h"
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/requant/requant32_plan.h"

namespace bnnflow::engine {

struct PreparedConvInt8 {
  glue::Conv2dInt8Args proto{};  // every field but x, y, N (and rq) filled from the op
  AlignedBuffer packed;
  decltype(&glue::scalar::conv2d_int8_packed) fn = nullptr;
};

// Throws std::invalid_argument (BNNFLOW_GLUE_PICK) when this build has no kernel for `isa`.
std::shared_ptr<PreparedConvInt8> prepare_conv_int8(const ValidGraph& g, const ValidOp& op,
                                                    Isa isa);

// The dense convolutions' geometry from input x, weights [Cout][KH][KW][Cin] and the op's
// stride and per-side padding (conv2d_int8 and conv2d_f32 arguments alike).
template <class Args>
void set_conv_geometry(const TensorInfo& x, const ParamTensor& w, const OpAttrs& attrs,
                       Args* a) {
  a->H = static_cast<std::size_t>(x.shape[1]);
  a->W = static_cast<std::size_t>(x.shape[2]);
  a->Cin = static_cast<std::size_t>(x.shape[3]);
  a->Cout = static_cast<std::size_t>(w.shape[0]);
  a->KH = static_cast<int>(w.shape[1]);
  a->KW = static_cast<int>(w.shape[2]);
  a->stride = static_cast<int>(attrs.stride);
  a->pad_top = static_cast<int>(attrs.pad_top);
  a->pad_left = static_cast<int>(attrs.pad_left);
  a->pad_bottom = static_cast<int>(attrs.pad_bottom);
  a->pad_right = static_cast<int>(attrs.pad_right);
}

// A requant32 op's (M, B, s) folded once per model (kernels/requant/requant32_plan.h): what
// the requant32 step, the conv2d_int8+requant32 pair and the band chains' requant32 links pass
// as Requant32Args::prep.
std::shared_ptr<const glue::Requant32Plan> prepare_requant32(const ValidOp& op);

// dwconv2d_int8's arguments: every field but x, y and N (a band link also sets H and the
// top / bottom padding of its window).
glue::DwConv2dInt8Args dwconv_int8_args(const ValidGraph& g, const ValidOp& op);

}  // namespace bnnflow::engine
