// Python binding of conv2d_int8 (the int8 stem and real-valued downsample convolutions).
#include "bindings/glue_ndarray.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include <chrono>

#include "kernels/conv_int8/conv_int8.h"
#include "kernels/conv_int8/mac_peak.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::glue::Array;
namespace g = bnnflow::bind::glue;
namespace k = bnnflow::glue;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
template <class T>
using Res = bnnflow::bind::Result<nb::ndarray<nb::numpy, T>>;

// x: uint8 or int8 NHWC; zp[c] must be a value of x's dtype. Returns the data pointer.
const void* int8_input(const Array& x, const Array& zp, std::size_t C, bool* is_unsigned) {
  *is_unsigned = g::has_dtype<std::uint8_t>(x);
  const void* p = *is_unsigned ? static_cast<const void*>(g::data<std::uint8_t>(x, "x", 4))
                               : static_cast<const void*>(g::data<std::int8_t>(x, "x", 4));
  const std::int32_t* z = g::vec<std::int32_t>(zp, "zp", C);
  for (std::size_t c = 0; c < C; ++c) {
    g::check_range(z[c], *is_unsigned ? 0 : -128, *is_unsigned ? 255 : 127, "zp");
  }
  return p;
}

Res<std::int32_t> conv2d_int8(const Array& x, const Array& w, const Array& bias, const Array& zp, int stride,
                              int padding, const std::optional<std::string>& isa, int threads,
                              const OutArg& out_arg) {
  if (x.ndim() != 4) g::fail("x", "expected NHWC, 4 dimensions, got shape " + g::shape_str(x));
  k::Conv2dInt8Args a{};
  a.N = x.shape(0);
  a.H = x.shape(1);
  a.W = x.shape(2);
  a.Cin = x.shape(3);
  a.x = int8_input(x, zp, a.Cin, &a.x_unsigned);
  a.zp = static_cast<const std::int32_t*>(zp.data());
  a.w = g::data<std::int8_t>(w, "w", 4);
  if (w.shape(3) != a.Cin) g::fail("w", "expected [Cout, KH, KW, Cin] with Cin = x.shape[3], got " + g::shape_str(w));
  a.Cout = w.shape(0);
  a.KH = static_cast<int>(w.shape(1));
  a.KW = static_cast<int>(w.shape(2));
  a.bias = g::vec<std::int32_t>(bias, "bias", a.Cout);
  g::check_window(a.H, a.W, a.KH, a.KW, stride, padding, false);
  a.stride = stride;
  a.pad = padding;
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), conv2d_int8);
  bnnflow::ThreadPool* pool = g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, a.KH, stride, padding), k::out_size(a.W, a.KW, stride, padding),
                       a.Cout};
  auto out = bnnflow::bind::output<std::int32_t>(
      out_arg, shape, &a.y, {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias"), span_of(zp, "zp")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

// Peak int8 MACs per second of one core for `isa` (see kernels/conv_int8/mac_peak.h). The
// loop is sized to about 1 ms per run (as long as a stem convolution) and run repeatedly for
// `seconds`; the best run counts, so preemption by other processes does not lower the peak.
double int8_mac_peak(const std::optional<std::string>& isa, double seconds) {
  if (!(seconds > 0.0 && seconds <= 10.0)) g::fail("seconds", "must be in (0, 10]");
  const bnnflow::Isa which = g::resolve_isa(isa);
  using Fn = std::uint64_t (*)(std::uint64_t, std::int32_t*);
  Fn fn = nullptr;
  if (which == bnnflow::Isa::kAvx2) fn = BNNFLOW_GLUE_X86(&bnnflow::glue::avx2::mac_peak_loop);
  if (which == bnnflow::Isa::kAvx512) fn = BNNFLOW_GLUE_X86(&bnnflow::glue::avx512::mac_peak_loop);
  if (which == bnnflow::Isa::kNeon) fn = BNNFLOW_GLUE_ARM(&bnnflow::glue::neon::mac_peak_loop);
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
  m.def("int8_mac_peak", &int8_mac_peak, "isa"_a = nb::none(), "seconds"_a = 0.2,
        "Peak int8 multiply-accumulates per second of one core on `isa` (avx2: vpmaddwd, "
        "avx512: vpdpbusd, neon: vmlal_s16), measured with independent accumulator chains.");
  m.def("conv2d_int8", &conv2d_int8, "x"_a, "w"_a, "bias"_a, "zp"_a, "stride"_a = 1, "padding"_a = 0,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "int8 convolution, NHWC: acc[n,i,j,o] = bias[o] + sum over taps inside the image of "
        "w[o,kh,kw,c] * (x[c] - zp[c]); padded taps contribute 0. x uint8 or int8 [N,H,W,Cin], "
        "w int8 [Cout,KH,KW,Cin], bias int32 [Cout], zp int32 [Cin] within x's dtype range. "
        "Returns int32 [N,Ho,Wo,Cout], Ho = (H + 2*padding - KH) // stride + 1.");
}
