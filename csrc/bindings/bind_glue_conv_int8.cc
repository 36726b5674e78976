// Python binding of conv2d_int8 (the int8 stem and real-valued downsample convolutions).
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/prepared_conv.h"
#include "bindings/registry.h"
#include "bindings/requant_check.h"
#include "kernels/requant/requant32_plan.h"
#include <chrono>

#include "kernels/conv_int8/conv_int8.h"
#include "measure/mac_peak.h"
#include "kernels/requant/requant.h"

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

// x: uint8 or int8 NHWC; zp[c] must be a value of x's dtype. Returns the data pointer.
const void* int8_input(const Array& x, const Array& zp, std::size_t C, bool* is_unsigned) {
  const void* p = g::uint8_or_int8(x, "x", 4, is_unsigned);
  const std::int32_t* z = g::vec<std::int32_t>(zp, "zp", C);
  for (std::size_t c = 0; c < C; ++c) {
    g::check_range(z[c], *is_unsigned ? 0 : -128, *is_unsigned ? 255 : 127, "zp");
  }
  return p;
}

using Conv2dInt8Weights = bnnflow::bind::PreparedConv<std::int8_t, std::int32_t>;

// Validates w [Cout, KH, KW, Cin] against Cin and bias [Cout]; fills a's weight fields.
void weight_args(k::Conv2dInt8Args& a, const Array& w, const Array& bias) {
  a.w = g::data<std::int8_t>(w, "w", 4);
  if (w.shape(3) != a.Cin) g::fail("w", "expected [Cout, KH, KW, Cin] with Cin = " + std::to_string(a.Cin) + ", got " + g::shape_str(w));
  a.Cout = w.shape(0);
  a.KH = static_cast<int>(w.shape(1));
  a.KW = static_cast<int>(w.shape(2));
  if (a.Cout == 0 || a.KH == 0 || a.KW == 0) g::fail("w", "must not be empty, got shape " + g::shape_str(w));
  a.bias = g::vec<std::int32_t>(bias, "bias", a.Cout);
}

// Output geometry, the output array (out= or new), then the kernel with the GIL released.
template <class Run>
Res<std::int32_t> run_conv(k::Conv2dInt8Args& a, int stride, int padding, int threads, const OutArg& out_arg,
                           const std::vector<bnnflow::bind::Span>& spans, const Run& run) {
  g::check_window(a.H, a.W, a.KH, a.KW, stride, padding, false);
  a.stride = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = padding;
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, a.KH, stride, padding, padding), k::out_size(a.W, a.KW, stride, padding, padding),
                       a.Cout};
  auto out = bnnflow::bind::output<std::int32_t>(out_arg, shape, &a.y, spans);
  {
    nb::gil_scoped_release release;
    run(a, pool);
  }
  return out;
}

void input_dims(k::Conv2dInt8Args& a, const Array& x) {
  if (x.ndim() != 4) g::fail("x", "expected NHWC, 4 dimensions, got shape " + g::shape_str(x));
  a.N = x.shape(0);
  a.H = x.shape(1);
  a.W = x.shape(2);
  a.Cin = x.shape(3);
}

Res<std::int32_t> conv2d_int8(const Array& x, const Array& w, const Array& bias, const Array& zp, int stride,
                              int padding, const std::optional<std::string>& isa, int threads,
                              const OutArg& out_arg) {
  k::Conv2dInt8Args a{};
  input_dims(a, x);
  a.x = int8_input(x, zp, a.Cin, &a.x_unsigned);
  a.zp = static_cast<const std::int32_t*>(zp.data());
  weight_args(a, w, bias);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), conv2d_int8);
  return run_conv(a, stride, padding, threads, out_arg,
                  {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias"), span_of(zp, "zp")}, fn);
}

Conv2dInt8Weights prepare_conv2d_int8_weights(const Array& w, const Array& bias, const Array& zp,
                                              const std::string& x_dtype, const std::optional<std::string>& isa) {
  Conv2dInt8Weights p;
  p.isa = g::resolve_isa(isa);
  if (x_dtype != "uint8" && x_dtype != "int8") g::fail("x_dtype", "must be 'uint8' or 'int8', got '" + x_dtype + "'");
  p.x_unsigned = x_dtype == "uint8";
  if (w.ndim() != 4) g::fail("w", "expected [Cout, KH, KW, Cin], got shape " + g::shape_str(w));
  k::Conv2dInt8Args a{};
  a.Cin = w.shape(3);
  weight_args(a, w, bias);
  const std::int32_t* z = g::vec<std::int32_t>(zp, "zp", a.Cin);
  for (std::size_t c = 0; c < a.Cin; ++c) g::check_range(z[c], p.x_unsigned ? 0 : -128, p.x_unsigned ? 255 : 127, "zp");
  p.cout = a.Cout;
  p.kh = static_cast<std::size_t>(a.KH);
  p.kw = static_cast<std::size_t>(a.KW);
  p.cin = a.Cin;
  p.w.assign(a.w, a.w + w.size());
  p.bias.assign(a.bias, a.bias + a.Cout);
  p.zp.assign(z, z + a.Cin);
  a.w = p.w.data();
  a.bias = p.bias.data();
  a.zp = p.zp.data();
  a.x_unsigned = p.x_unsigned;
  auto bytes = BNNFLOW_GLUE_PICK(p.isa, conv2d_int8_packed_bytes);
  auto pack = BNNFLOW_GLUE_PICK(p.isa, conv2d_int8_pack);
  p.packed = std::make_shared<bnnflow::bind::AlignedBytes>(bytes(a));
  pack(a, p.packed->data());
  return p;
}

// The input and weight fields of a for prepared weights p; returns the ISA that runs.
bnnflow::Isa prepared_args(k::Conv2dInt8Args& a, const Array& x, const Conv2dInt8Weights& p,
                           const std::optional<std::string>& isa) {
  const bnnflow::Isa chosen = bnnflow::bind::prepared_isa(p.isa, isa, isa ? g::resolve_isa(isa) : p.isa);
  input_dims(a, x);
  const bool x_unsigned = g::has_dtype<std::uint8_t>(x);
  const char* want = p.x_unsigned ? "uint8" : "int8";
  if (x_unsigned != p.x_unsigned || !(x_unsigned || g::has_dtype<std::int8_t>(x))) {
    g::fail("x", std::string("the weights were prepared for ") + want + " input, got " + g::dtype_name(x.dtype()));
  }
  a.x = x_unsigned ? static_cast<const void*>(g::data<std::uint8_t>(x, "x", 4))
                   : static_cast<const void*>(g::data<std::int8_t>(x, "x", 4));
  a.x_unsigned = x_unsigned;
  if (a.Cin != p.cin) g::fail("x", "has " + std::to_string(a.Cin) + " channels, the weights " + std::to_string(p.cin));
  a.w = p.w.data();
  a.bias = p.bias.data();
  a.zp = p.zp.data();
  a.Cout = p.cout;
  a.KH = static_cast<int>(p.kh);
  a.KW = static_cast<int>(p.kw);
  return chosen;
}

Res<std::int32_t> conv2d_int8_prepared(const Array& x, const Conv2dInt8Weights& p, int stride, int padding,
                                       const std::optional<std::string>& isa, int threads, const OutArg& out_arg) {
  k::Conv2dInt8Args a{};
  auto fn = BNNFLOW_GLUE_PICK(prepared_args(a, x, p, isa), conv2d_int8_packed);
  const void* packed = p.packed->data();
  return run_conv(a, stride, padding, threads, out_arg, {span_of(x, "x")},
                  [fn, packed](const k::Conv2dInt8Args& args, bnnflow::ThreadPool* pool) { fn(args, packed, pool); });
}

// conv2d_int8 with requant32 fused: int8 out, no int32 tensor.
Res<std::int8_t> conv2d_int8_requant(const Array& x, const Conv2dInt8Weights& p, const Array& M, const Array& B,
                                     const Array& s, int stride, int padding, const std::optional<std::string>& isa,
                                     int threads, const OutArg& out_arg, bool prepared) {
  k::Conv2dInt8Args a{};
  const bnnflow::Isa chosen = prepared_args(a, x, p, isa);
  k::Conv2dInt8Requant rq{};
  const g::Requant32Params q = g::requant32_params(M, B, s, a.Cout);
  rq.M = q.M, rq.B = q.B, rq.s = q.s;
  rq.fn = BNNFLOW_GLUE_PICK(chosen, requant32);
  std::unique_ptr<k::Requant32Plan> plan;
  if (prepared) {
    plan = std::make_unique<k::Requant32Plan>(rq.M, rq.B, rq.s, a.Cout);
    rq.prep = &plan->view();
  }
  auto fn = BNNFLOW_GLUE_PICK(chosen, conv2d_int8_packed);
  g::check_window(a.H, a.W, a.KH, a.KW, stride, padding, false);
  a.stride = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = padding;
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, a.KH, stride, padding, padding), k::out_size(a.W, a.KW, stride, padding, padding),
                       a.Cout};
  auto out = bnnflow::bind::output<std::int8_t>(out_arg, shape, &rq.y,
                                                {span_of(x, "x"), span_of(M, "M"), span_of(B, "B"), span_of(s, "s")});
  a.rq = &rq;
  {
    nb::gil_scoped_release release;
    fn(a, p.packed->data(), pool);
  }
  return out;
}

// Peak int8 MACs per second of one core for `isa` (see measure/mac_peak.h). The
// loop is sized to about 1 ms per run (as long as a stem convolution) and run repeatedly for
// `seconds`; the best run counts, so preemption by other processes does not lower the peak.
double int8_mac_peak(const std::optional<std::string>& isa, double seconds) {
  if (!(seconds > 0.0 && seconds <= 10.0)) g::fail("seconds", "must be in (0, 10]");
  const bnnflow::Isa which = g::resolve_isa(isa);
  const bnnflow::glue::MacPeakFn fn = bnnflow::glue::mac_peak_kernel(which);
  if (fn == nullptr) g::fail("isa", std::string("no int8 MAC peak loop for ") + bnnflow::isa_name(which));
  nb::gil_scoped_release release;
  using clock = std::chrono::steady_clock;
  std::int32_t sink = 0;
  auto run = [&](std::uint64_t iters) {
    const auto t0 = clock::now();
    const std::uint64_t macs = fn(iters, &sink);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    return std::pair<double, double>(static_cast<double>(macs), dt);
  };
  std::uint64_t iters = 256;
  while (run(iters).second < 1e-3 && iters < (1ull << 40)) iters *= 2;
  double best = 0.0;
  const auto start = clock::now();
  do {
    const auto [macs, dt] = run(iters);
    if (dt > 0 && macs / dt > best) best = macs / dt;
  } while (std::chrono::duration<double>(clock::now() - start).count() < seconds);
  return best + 0.0 * sink;
}

}  // namespace

BNNFLOW_BIND(glue_conv_int8) {
  nb::class_<Conv2dInt8Weights>(m, "Conv2dInt8Weights",
                                "conv2d_int8 weights, bias and zero points re-laid once for one ISA's kernel "
                                "(see prepare_conv2d_int8_weights).")
      .def_prop_ro("isa", [](const Conv2dInt8Weights& p) { return std::string(bnnflow::isa_name(p.isa)); })
      .def_prop_ro("x_dtype", [](const Conv2dInt8Weights& p) { return std::string(p.x_unsigned ? "uint8" : "int8"); })
      .def_ro("cout", &Conv2dInt8Weights::cout)
      .def_ro("kh", &Conv2dInt8Weights::kh)
      .def_ro("kw", &Conv2dInt8Weights::kw)
      .def_ro("cin", &Conv2dInt8Weights::cin)
      .def("__repr__", [](const Conv2dInt8Weights& p) {
        return "Conv2dInt8Weights(cout=" + std::to_string(p.cout) + ", kh=" + std::to_string(p.kh) +
               ", kw=" + std::to_string(p.kw) + ", cin=" + std::to_string(p.cin) + ", x_dtype='" +
               (p.x_unsigned ? "uint8" : "int8") + "', isa='" + bnnflow::isa_name(p.isa) + "')";
      });
  m.def("prepare_conv2d_int8_weights", &prepare_conv2d_int8_weights, "w"_a, "bias"_a, "zp"_a, nb::kw_only(),
        "x_dtype"_a = "uint8", "isa"_a = nb::none(),
        "Re-lay conv2d_int8 weights w int8 [Cout,KH,KW,Cin], bias int32 [Cout] and zero points zp int32 "
        "[Cin] (in x_dtype's range) once for one ISA's kernel (isa=None: the active ISA); the input "
        "dtype x_dtype ('uint8' or 'int8') is part of the preparation. Returns a Conv2dInt8Weights "
        "for conv2d_int8(x, weights, ...).");
  m.def("int8_mac_peak", &int8_mac_peak, "isa"_a = nb::none(), "seconds"_a = 0.2,
        "Peak int8 multiply-accumulates per second of one core on `isa` (avx2: vpmaddwd, "
        "avx512: vpdpbusd, neon: vmlal_s16), measured with independent accumulator chains.");
  m.def("conv2d_int8", &conv2d_int8, "x"_a, "w"_a, "bias"_a, "zp"_a, "stride"_a = 1, "padding"_a = 0,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "int8 convolution, NHWC: acc[n,i,j,o] = bias[o] + sum over taps inside the image of "
        "w[o,kh,kw,c] * (x[c] - zp[c]); padded taps contribute 0. x uint8 or int8 [N,H,W,Cin], "
        "w int8 [Cout,KH,KW,Cin], bias int32 [Cout], zp int32 [Cin] within x's dtype range. "
        "Returns int32 [N,Ho,Wo,Cout], Ho = (H + 2*padding - KH) // stride + 1.");
  m.def("conv2d_int8", &conv2d_int8_prepared, "x"_a, "weights"_a, "stride"_a = 1, "padding"_a = 0,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "conv2d_int8 with prepared weights (prepare_conv2d_int8_weights): the same result as "
        "conv2d_int8(x, w, bias, zp, ...) with no per-call weight work. x must have the prepared "
        "x_dtype and Cin channels; isa must be None or the weights' ISA.");
  m.def("conv2d_int8_requant", &conv2d_int8_requant, "x"_a, "weights"_a, "M"_a, "B"_a, "s"_a, "stride"_a = 1,
        "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "prepared"_a = false,
        "conv2d_int8(x, weights, ...) followed by requant32(acc, M, B, s) in one pass: int8 "
        "[N,Ho,Wo,Cout] equal to the two ops, without the int32 tensor (each output row is "
        "requantized while in cache). M int32, B int64, s int32 in [0, 62], all [Cout]. "
        "prepared: fold (M, B, s) first as the engine does (requant32_mode); then AVX-512 with "
        "Cout a multiple of 16 requantises in the register tile (conv2d_int8_requant_in_tile).");
}
