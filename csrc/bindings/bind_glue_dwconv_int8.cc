// Python binding of dwconv2d_int8 (depthwise with channel multiplier).
#include <vector>

#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "bindings/requant_check.h"
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/requant/requant32_plan.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;
namespace k = bnnflow::glue;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
template <class T>
using Res = bnnflow::bind::Result<nb::ndarray<nb::numpy, T>>;

// The shapes, tensors and window of one call (a.y / a.y8 set by the caller).
k::DwConv2dInt8Args dw_args(const Array& x, const Array& w, const Array& bias, const Array& zp, int stride,
                            int padding) {
  if (x.ndim() != 4) g::fail("x", "expected NHWC, 4 dimensions, got shape " + g::shape_str(x));
  k::DwConv2dInt8Args a{};
  a.N = x.shape(0);
  a.H = x.shape(1);
  a.W = x.shape(2);
  a.C = x.shape(3);
  a.x = g::uint8_or_int8(x, "x", 4, &a.x_unsigned);
  a.zp = g::vec<std::int32_t>(zp, "zp", a.C);
  for (std::size_t c = 0; c < a.C; ++c) {
    g::check_range(a.zp[c], a.x_unsigned ? 0 : -128, a.x_unsigned ? 255 : 127, "zp");
  }
  a.w = g::data<std::int8_t>(w, "w", 3);
  if (a.C == 0 || w.shape(0) == 0 || w.shape(0) % a.C != 0) {
    g::fail("w", "expected [C*m, KH, KW] with C = x.shape[3] = " + std::to_string(a.C) + ", got " + g::shape_str(w));
  }
  a.mult = w.shape(0) / a.C;
  a.KH = static_cast<int>(w.shape(1));
  a.KW = static_cast<int>(w.shape(2));
  a.bias = g::vec<std::int32_t>(bias, "bias", a.C * a.mult);
  g::check_window(a.H, a.W, a.KH, a.KW, stride, padding, false);
  a.stride = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = padding;
  return a;
}

g::Shape dw_out_shape(const k::DwConv2dInt8Args& a) {
  return {a.N, k::out_size(a.H, a.KH, a.stride, a.pad_top, a.pad_bottom),
          k::out_size(a.W, a.KW, a.stride, a.pad_left, a.pad_right), a.C * a.mult};
}

Res<std::int32_t> dwconv2d_int8(const Array& x, const Array& w, const Array& bias, const Array& zp, int stride,
                                int padding, const std::optional<std::string>& isa, int threads,
                                const OutArg& out_arg) {
  k::DwConv2dInt8Args a = dw_args(x, w, bias, zp, stride, padding);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), dwconv2d_int8);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  auto out = bnnflow::bind::output<std::int32_t>(
      out_arg, dw_out_shape(a), &a.y, {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias"), span_of(zp, "zp")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

// dwconv2d_int8 + requant32 (M, B, s folded first, as the engine does): in the register tile
// where dwconv2d_int8_requant_in_tile holds, else the two kernels through an int32 tensor.
Res<std::int8_t> dwconv2d_int8_requant(const Array& x, const Array& w, const Array& bias, const Array& zp,
                                       const Array& M, const Array& B, const Array& s, int stride, int padding,
                                       const std::optional<std::string>& isa, int threads, const OutArg& out_arg) {
  k::DwConv2dInt8Args a = dw_args(x, w, bias, zp, stride, padding);
  const std::size_t co = a.C * a.mult;
  const g::Requant32Params q = g::requant32_params(M, B, s, co);
  const k::Requant32Plan plan(q.M, q.B, q.s, co);
  const bnnflow::Isa chosen = g::resolve_isa(isa);
  auto fn = BNNFLOW_GLUE_PICK(chosen, dwconv2d_int8);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  const g::Shape shape = dw_out_shape(a);
  std::int8_t* y8 = nullptr;
  auto out = bnnflow::bind::output<std::int8_t>(
      out_arg, shape, &y8,
      {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias"), span_of(zp, "zp"), span_of(M, "M"),
       span_of(B, "B"), span_of(s, "s")});
  a.rq = &plan.view();
  a.y8 = y8;
  const bool in_tile = BNNFLOW_GLUE_PICK(chosen, dwconv2d_int8_requant_in_tile)(a);
  {
    nb::gil_scoped_release release;
    if (in_tile) {
      fn(a, pool);
    } else {
      const std::size_t rows = shape[0] * shape[1] * shape[2];
      std::vector<std::int32_t> acc(rows * co);
      a.rq = nullptr;
      a.y8 = nullptr;
      a.y = acc.data();
      fn(a, pool);
      const k::Requant32Args r{acc.data(), y8, rows, co, q.M, q.B, q.s, &plan.view()};
      BNNFLOW_GLUE_PICK(chosen, requant32)(r, pool);
    }
  }
  return out;
}

// Whether `isa`'s dwconv2d_int8 requantises (M, B, s) in its register tile.
bool dwconv2d_int8_requant_in_tile(const Array& M, const Array& B, const Array& s,
                                   const std::optional<std::string>& isa) {
  const std::size_t co = M.size();
  const g::Requant32Params q = g::requant32_params(M, B, s, co);
  const k::Requant32Plan plan(q.M, q.B, q.s, co);
  k::DwConv2dInt8Args a{};
  std::int8_t probe = 0;
  a.rq = &plan.view();
  a.y8 = &probe;
  return BNNFLOW_GLUE_PICK(g::resolve_isa(isa), dwconv2d_int8_requant_in_tile)(a);
}

}  // namespace

BNNFLOW_BIND(glue_dwconv_int8) {
  m.def("dwconv2d_int8", &dwconv2d_int8, "x"_a, "w"_a, "bias"_a, "zp"_a, "stride"_a = 1,
        "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Depthwise int8 convolution with channel multiplier m = w.shape[0] // C: output channel "
        "o = c*m + j: acc = bias[o] + sum over taps inside of w[o,kh,kw] * (x[c] - zp[c]). "
        "x uint8 or int8 [N,H,W,C], w int8 [C*m,KH,KW], bias int32 [C*m], zp int32 [C]. "
        "Returns int32 [N,Ho,Wo,C*m].");
  m.def("dwconv2d_int8_requant", &dwconv2d_int8_requant, "x"_a, "w"_a, "bias"_a, "zp"_a, "M"_a, "B"_a, "s"_a,
        "stride"_a = 1, "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(),
        "out"_a = nb::none(),
        "dwconv2d_int8(x, w, bias, zp, ...) followed by requant32(acc, M, B, s): int8 [N,Ho,Wo,C*m] "
        "equal to the two ops. (M, B, s) are folded first as the engine does (requant32_mode); "
        "where dwconv2d_int8_requant_in_tile holds the kernel requantises its accumulators in "
        "the register tile (no int32 tensor), otherwise the two kernels run apart.");
  m.def("dwconv2d_int8_requant_in_tile", &dwconv2d_int8_requant_in_tile, "M"_a, "B"_a, "s"_a,
        "isa"_a = nb::none(),
        "Whether isa's dwconv2d_int8 requantises requant32(M, B, s) in its register tile: every ISA "
        "(scalar per element) for the int32 and high32 forms (requant32_mode), not for int64.");
}
