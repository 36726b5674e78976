// Python binding of dense_int8 (the classifier's int8 x int8 -> int32 matrix product).
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/dense_int8/dense_int8.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
template <class T>
using Res = bnnflow::bind::Result<nb::ndarray<nb::numpy, T>>;

Res<std::int32_t> dense_int8(const Array& x, const Array& w, const Array& bias,
                             const std::optional<std::string>& isa, int threads, const OutArg& out_arg) {
  bnnflow::glue::DenseInt8Args a{};
  a.x = g::data<std::int8_t>(x, "x", 2);
  a.w = g::data<std::int8_t>(w, "w", 2);
  a.N = x.shape(0);
  a.Cin = x.shape(1);
  a.Cout = w.shape(0);
  if (w.shape(1) != a.Cin) g::fail("w", "expected [Cout, Cin] with Cin = x.shape[1], got " + g::shape_str(w));
  a.bias = g::vec<std::int32_t>(bias, "bias", a.Cout);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), dense_int8);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  auto out = bnnflow::bind::output<std::int32_t>(out_arg, g::Shape{a.N, a.Cout}, &a.y,
                                                 {span_of(x, "x"), span_of(w, "w"), span_of(bias, "bias")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

}  // namespace

BNNFLOW_BIND(glue_dense_int8) {
  m.def("dense_int8", &dense_int8, "x"_a, "w"_a, "bias"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "int8 dense layer: acc[n,o] = bias[o] + sum_c w[o,c]*x[n,c]. x int8 [N,Cin], w int8 "
        "[Cout,Cin], bias int32 [Cout]; returns int32 [N,Cout].");
}
