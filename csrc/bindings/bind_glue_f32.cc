// Python bindings of the float32 glue: scale_bias, dequant, conv2d_f32, dense_f32.
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/prepared_conv.h"
#include "bindings/registry.h"
#include "kernels/glue_f32/glue_f32.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;
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
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
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
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
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

using Conv2dF32Weights = bnnflow::bind::PreparedConv<float, float>;

void f32_weight_args(k::Conv2dF32Args& a, const Array& w, const Array& bias) {
  a.w = g::data<float>(w, "w", 4);
  if (w.shape(3) != a.Cin) g::fail("w", "expected [Cout, KH, KW, Cin] with Cin = " + std::to_string(a.Cin) + ", got " + g::shape_str(w));
  a.Cout = w.shape(0);
  a.KH = static_cast<int>(w.shape(1));
  a.KW = static_cast<int>(w.shape(2));
  if (a.Cout == 0 || a.KH == 0 || a.KW == 0) g::fail("w", "must not be empty, got shape " + g::shape_str(w));
  a.bias = g::vec<float>(bias, "bias", a.Cout);
}

template <class Run>
Res<float> run_conv_f32(k::Conv2dF32Args& a, const Array& x, int stride, int padding, int threads,
                        const OutArg& out_arg, const std::vector<bnnflow::bind::Span>& spans, const Run& run) {
  g::check_window(a.H, a.W, a.KH, a.KW, stride, padding, false);
  a.stride = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = padding;
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, a.KH, stride, padding, padding), k::out_size(a.W, a.KW, stride, padding, padding),
                       a.Cout};
  auto out = bnnflow::bind::output<float>(out_arg, shape, &a.y, spans);
  {
    nb::gil_scoped_release release;
    run(a, pool);
  }
  return out;
}

void f32_input(k::Conv2dF32Args& a, const Array& x) {
  a.x = g::data<float>(x, "x", 4);
  a.N = x.shape(0);
  a.H = x.shape(1);
  a.W = x.shape(2);
  a.Cin = x.shape(3);
}

Res<float> conv2d_f32(const Array& x, const Array& w, const Array& bias, int stride, int padding,
                      const IsaArg& isa, int threads, const OutArg& out_arg) {
  k::Conv2dF32Args a{};
  f32_input(a, x);
  f32_weight_args(a, w, bias);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), conv2d_f32);
  return run_conv_f32(a, x, stride, padding, threads, out_arg,
                      {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias")}, fn);
}

Conv2dF32Weights prepare_conv2d_f32_weights(const Array& w, const Array& bias, const IsaArg& isa) {
  Conv2dF32Weights p;
  p.isa = g::resolve_isa(isa);
  if (w.ndim() != 4) g::fail("w", "expected [Cout, KH, KW, Cin], got shape " + g::shape_str(w));
  k::Conv2dF32Args a{};
  a.Cin = w.shape(3);
  f32_weight_args(a, w, bias);
  p.cout = a.Cout;
  p.kh = static_cast<std::size_t>(a.KH);
  p.kw = static_cast<std::size_t>(a.KW);
  p.cin = a.Cin;
  p.w.assign(a.w, a.w + w.size());
  p.bias.assign(a.bias, a.bias + a.Cout);
  a.w = p.w.data();
  a.bias = p.bias.data();
  auto bytes = BNNFLOW_GLUE_PICK(p.isa, conv2d_f32_packed_bytes);
  auto pack = BNNFLOW_GLUE_PICK(p.isa, conv2d_f32_pack);
  p.packed = std::make_shared<bnnflow::bind::AlignedBytes>(bytes(a));
  pack(a, p.packed->data());
  return p;
}

Res<float> conv2d_f32_prepared(const Array& x, const Conv2dF32Weights& p, int stride, int padding, const IsaArg& isa,
                               int threads, const OutArg& out_arg) {
  const bnnflow::Isa chosen = bnnflow::bind::prepared_isa(p.isa, isa, isa ? g::resolve_isa(isa) : p.isa);
  k::Conv2dF32Args a{};
  f32_input(a, x);
  if (a.Cin != p.cin) g::fail("x", "has " + std::to_string(a.Cin) + " channels, the weights " + std::to_string(p.cin));
  a.w = p.w.data();
  a.bias = p.bias.data();
  a.Cout = p.cout;
  a.KH = static_cast<int>(p.kh);
  a.KW = static_cast<int>(p.kw);
  auto fn = BNNFLOW_GLUE_PICK(chosen, conv2d_f32_packed);
  const void* packed = p.packed->data();
  return run_conv_f32(a, x, stride, padding, threads, out_arg, {span_of(x, "x")},
                      [fn, packed](const k::Conv2dF32Args& args, bnnflow::ThreadPool* pool) { fn(args, packed, pool); });
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
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
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
  nb::class_<Conv2dF32Weights>(m, "Conv2dF32Weights",
                               "conv2d_f32 weights and bias re-laid once for one ISA's kernel "
                               "(see prepare_conv2d_f32_weights).")
      .def_prop_ro("isa", [](const Conv2dF32Weights& p) { return std::string(bnnflow::isa_name(p.isa)); })
      .def_ro("cout", &Conv2dF32Weights::cout)
      .def_ro("kh", &Conv2dF32Weights::kh)
      .def_ro("kw", &Conv2dF32Weights::kw)
      .def_ro("cin", &Conv2dF32Weights::cin)
      .def("__repr__", [](const Conv2dF32Weights& p) {
        return "Conv2dF32Weights(cout=" + std::to_string(p.cout) + ", kh=" + std::to_string(p.kh) +
               ", kw=" + std::to_string(p.kw) + ", cin=" + std::to_string(p.cin) + ", isa='" +
               bnnflow::isa_name(p.isa) + "')";
      });
  m.def("prepare_conv2d_f32_weights", &prepare_conv2d_f32_weights, "w"_a, "bias"_a, nb::kw_only(),
        "isa"_a = nb::none(),
        "Re-lay conv2d_f32 weights w float32 [Cout,KH,KW,Cin] and bias [Cout] once for one ISA's "
        "kernel (isa=None: the active ISA). Returns a Conv2dF32Weights for conv2d_f32(x, weights, ...).");
  m.def("scale_bias", &scale_bias, "x"_a, "a"_a, "b"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Per-channel affine map of float32 x (channels last): y = x*a[c] + b[c].");
  m.def("dequant", &dequant, "x"_a, "scale"_a, "bias"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "int32 -> float32 per channel (channels last): y = float32(x)*scale[c] + bias[c].");
  m.def("conv2d_f32", &conv2d_f32, "x"_a, "w"_a, "bias"_a, "stride"_a = 1, "padding"_a = 0,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "float32 NHWC convolution with zero padding: y[o] = bias[o] + sum over taps inside of "
        "w[o,kh,kw,c]*x[c]. x [N,H,W,Cin], w [Cout,KH,KW,Cin], bias [Cout].");
  m.def("conv2d_f32", &conv2d_f32_prepared, "x"_a, "weights"_a, "stride"_a = 1, "padding"_a = 0,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "conv2d_f32 with prepared weights (prepare_conv2d_f32_weights): the same result as "
        "conv2d_f32(x, w, bias, ...) with no per-call weight work; isa must be None or the weights' ISA.");
  m.def("dense_f32", &dense_f32, "x"_a, "w"_a, "bias"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "float32 dense layer y[n,o] = bias[o] + sum_c w[o,c]*x[n,c]; x [N,Cin], w [Cout,Cin].");
}
