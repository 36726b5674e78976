// Python bindings of the float32 glue: scale_bias, dequant, conv2d_f32, dense_f32.
#include "bindings/glue_ndarray.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/glue_f32/glue_f32.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::glue::Array;
namespace g = bnnflow::bind::glue;
namespace k = bnnflow::glue;
using IsaArg = std::optional<std::string>;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
template <class T>
using Res = bnnflow::bind::Result<nb::ndarray<nb::numpy, T>>;

Res<float> scale_bias(const Array& x, const Array& a_, const Array& b_, const IsaArg& isa, int threads,
                      const OutArg& out_arg) {
  const std::size_t C = g::last_dim(x, "x");
  k::ScaleBiasArgs a{};
  a.x = g::data<float>(x, "x");
  a.a = g::vec<float>(a_, "a", C);
  a.b = g::vec<float>(b_, "b", C);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), scale_bias);
  bnnflow::ThreadPool* pool = g::pool_for(threads);
  a.channels = C;
  a.rows = C == 0 ? 0 : x.size() / C;
  auto out = bnnflow::bind::output<float>(out_arg, g::shape_of(x), &a.y,
                                          {span_of(x, "x", true), span_of(a_, "a"), span_of(b_, "b")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

Res<float> dequant(const Array& x, const Array& scale, const Array& bias, const IsaArg& isa, int threads,
                   const OutArg& out_arg) {
  const std::size_t C = g::last_dim(x, "x");
  k::DequantArgs a{};
  a.x = g::data<std::int32_t>(x, "x");
  a.scale = g::vec<float>(scale, "scale", C);
  a.bias = g::vec<float>(bias, "bias", C);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), dequant);
  bnnflow::ThreadPool* pool = g::pool_for(threads);
  a.channels = C;
  a.rows = C == 0 ? 0 : x.size() / C;
  auto out = bnnflow::bind::output<float>(out_arg, g::shape_of(x), &a.y,
                                          {span_of(x, "x"), span_of(scale, "scale"), span_of(bias, "bias")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

Res<float> conv2d_f32(const Array& x, const Array& w, const Array& bias, int stride, int padding,
                      const IsaArg& isa, int threads, const OutArg& out_arg) {
  k::Conv2dF32Args a{};
  a.x = g::data<float>(x, "x", 4);
  a.w = g::data<float>(w, "w", 4);
  a.N = x.shape(0);
  a.H = x.shape(1);
  a.W = x.shape(2);
  a.Cin = x.shape(3);
  if (w.shape(3) != a.Cin) g::fail("w", "expected [Cout, KH, KW, Cin] with Cin = x.shape[3], got " + g::shape_str(w));
  a.Cout = w.shape(0);
  a.KH = static_cast<int>(w.shape(1));
  a.KW = static_cast<int>(w.shape(2));
  a.bias = g::vec<float>(bias, "bias", a.Cout);
  g::check_window(a.H, a.W, a.KH, a.KW, stride, padding, false);
  a.stride = stride;
  a.pad = padding;
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), conv2d_f32);
  bnnflow::ThreadPool* pool = g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, a.KH, stride, padding), k::out_size(a.W, a.KW, stride, padding),
                       a.Cout};
  auto out = bnnflow::bind::output<float>(out_arg, shape, &a.y,
                                          {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

Res<float> dense_f32(const Array& x, const Array& w, const Array& bias, const IsaArg& isa, int threads,
                     const OutArg& out_arg) {
  k::DenseF32Args a{};
  a.x = g::data<float>(x, "x", 2);
  a.w = g::data<float>(w, "w", 2);
  a.N = x.shape(0);
  a.Cin = x.shape(1);
  a.Cout = w.shape(0);
  if (w.shape(1) != a.Cin) g::fail("w", "expected [Cout, Cin] with Cin = x.shape[1], got " + g::shape_str(w));
  a.bias = g::vec<float>(bias, "bias", a.Cout);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), dense_f32);
  bnnflow::ThreadPool* pool = g::pool_for(threads);
  auto out = bnnflow::bind::output<float>(out_arg, g::Shape{a.N, a.Cout}, &a.y,
                                          {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

}  // namespace

BNNFLOW_BIND(glue_f32) {
  m.def("scale_bias", &scale_bias, "x"_a, "a"_a, "b"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Per-channel affine map of float32 x (channels last): y = x*a[c] + b[c].");
  m.def("dequant", &dequant, "x"_a, "scale"_a, "bias"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "int32 -> float32 per channel (channels last): y = float32(x)*scale[c] + bias[c].");
  m.def("conv2d_f32", &conv2d_f32, "x"_a, "w"_a, "bias"_a, "stride"_a = 1, "padding"_a = 0,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "float32 NHWC convolution with zero padding: y[o] = bias[o] + sum over taps inside of "
        "w[o,kh,kw,c]*x[c]. x [N,H,W,Cin], w [Cout,KH,KW,Cin], bias [Cout].");
  m.def("dense_f32", &dense_f32, "x"_a, "w"_a, "bias"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "float32 dense layer y[n,o] = bias[o] + sum_c w[o,c]*x[n,c]; x [N,Cin], w [Cout,Cin].");
}
