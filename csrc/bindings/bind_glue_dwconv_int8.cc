// Python binding of dwconv2d_int8 (depthwise with channel multiplier).
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/dwconv_int8/dwconv_int8.h"

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

Res<std::int32_t> dwconv2d_int8(const Array& x, const Array& w, const Array& bias, const Array& zp, int stride,
                                int padding, const std::optional<std::string>& isa, int threads,
                                const OutArg& out_arg) {
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
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), dwconv2d_int8);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, a.KH, stride, padding, padding), k::out_size(a.W, a.KW, stride, padding, padding),
                       a.C * a.mult};
  auto out = bnnflow::bind::output<std::int32_t>(
      out_arg, shape, &a.y, {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias"), span_of(zp, "zp")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

}  // namespace

BNNFLOW_BIND(glue_dwconv_int8) {
  m.def("dwconv2d_int8", &dwconv2d_int8, "x"_a, "w"_a, "bias"_a, "zp"_a, "stride"_a = 1,
        "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Depthwise int8 convolution with channel multiplier m = w.shape[0] // C: output channel "
        "o = c*m + j: acc = bias[o] + sum over taps inside of w[o,kh,kw] * (x[c] - zp[c]). "
        "x uint8 or int8 [N,H,W,C], w int8 [C*m,KH,KW], bias int32 [C*m], zp int32 [C]. "
        "Returns int32 [N,Ho,Wo,C*m].");
}
