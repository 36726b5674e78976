// Python bindings of the pooling kernels (int8 and float32, windowed and global).
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/pool/pool.h"

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

template <class Tin, class Tout>
using PoolFn = void (*)(const k::PoolArgs<Tin, Tout>&, bnnflow::ThreadPool*);

template <class Tin, class Tout>
Res<Tout> run_pool(PoolFn<Tin, Tout> fn, const Array& x, int kernel, int stride, int padding, int threads,
                   const OutArg& out_arg) {
  k::PoolArgs<Tin, Tout> a{};
  a.x = g::data<Tin>(x, "x", 4);
  a.N = x.shape(0);
  a.H = x.shape(1);
  a.W = x.shape(2);
  a.C = x.shape(3);
  g::check_window(a.H, a.W, kernel, kernel, stride, padding, true);
  a.k = kernel;
  a.stride = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = padding;
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  const g::Shape shape{a.N, k::out_size(a.H, kernel, stride, padding, padding),
                       k::out_size(a.W, kernel, stride, padding, padding), a.C};
  auto out = bnnflow::bind::output<Tout>(out_arg, shape, &a.y, {span_of(x, "x")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

template <class Tin, class Tout>
Res<Tout> run_global(void (*fn)(const k::GlobalPoolArgs<Tin, Tout>&, bnnflow::ThreadPool*), const Array& x,
                     int threads, const OutArg& out_arg) {
  k::GlobalPoolArgs<Tin, Tout> a{};
  a.x = g::data<Tin>(x, "x", 4);
  a.N = x.shape(0);
  a.HW = x.shape(1) * x.shape(2);
  a.C = x.shape(3);
  if (a.HW == 0) g::fail("x", "spatial size must be at least 1x1");
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  auto out = bnnflow::bind::output<Tout>(out_arg, g::Shape{a.N, a.C}, &a.y, {span_of(x, "x")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

using Isa = std::optional<std::string>;

}  // namespace

BNNFLOW_BIND(glue_pool) {
  m.def(
      "maxpool_int8",
      [](const Array& x, int kernel, int stride, int padding, const Isa& isa, int threads, const OutArg& out) {
        return run_pool<std::int8_t, std::int8_t>(BNNFLOW_GLUE_PICK(g::resolve_isa(isa), maxpool_int8), x,
                                                  kernel, stride, padding, threads, out);
      },
      "x"_a, "kernel"_a, "stride"_a, "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
      "Max pooling of int8 NHWC x over kernel x kernel windows; padded taps are ignored. "
      "0 <= padding <= kernel // 2.");
  m.def(
      "sumpool_int8",
      [](const Array& x, int kernel, int stride, int padding, const Isa& isa, int threads, const OutArg& out) {
        return run_pool<std::int8_t, std::int32_t>(BNNFLOW_GLUE_PICK(g::resolve_isa(isa), sumpool_int8), x,
                                                   kernel, stride, padding, threads, out);
      },
      "x"_a, "kernel"_a, "stride"_a, "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
      "int32 sum of int8 NHWC x over the taps of each window inside the image (an average pool "
      "is this followed by requant32 with 1/kernel^2 folded into M).");
  m.def(
      "maxpool_f32",
      [](const Array& x, int kernel, int stride, int padding, const Isa& isa, int threads, const OutArg& out) {
        return run_pool<float, float>(BNNFLOW_GLUE_PICK(g::resolve_isa(isa), maxpool_f32), x, kernel,
                                      stride, padding, threads, out);
      },
      "x"_a, "kernel"_a, "stride"_a, "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
      "Max pooling of float32 NHWC x; padded taps are ignored.");
  m.def(
      "avgpool_f32",
      [](const Array& x, int kernel, int stride, int padding, const Isa& isa, int threads, const OutArg& out) {
        return run_pool<float, float>(BNNFLOW_GLUE_PICK(g::resolve_isa(isa), avgpool_f32), x, kernel,
                                      stride, padding, threads, out);
      },
      "x"_a, "kernel"_a, "stride"_a, "padding"_a = 0, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
      "Average pooling of float32 NHWC x, count_include_pad: (sum of the taps inside) / kernel^2.");
  m.def(
      "global_sumpool_int8",
      [](const Array& x, const Isa& isa, int threads, const OutArg& out) {
        return run_global<std::int8_t, std::int32_t>(BNNFLOW_GLUE_PICK(g::resolve_isa(isa), global_sumpool_int8),
                                                     x, threads, out);
      },
      "x"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
      "int32 [N, C] sum over H*W of int8 NHWC x.");
  m.def(
      "global_avgpool_f32",
      [](const Array& x, const Isa& isa, int threads, const OutArg& out) {
        return run_global<float, float>(BNNFLOW_GLUE_PICK(g::resolve_isa(isa), global_avgpool_f32), x,
                                        threads, out);
      },
      "x"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(), "float32 [N, C] mean over H*W of float32 NHWC x.");
}
