// Python binding of concat along channels (int8 or float32).
#include <nanobind/stl/vector.h>

#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/concat/concat.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;

namespace {

using bnnflow::bind::OutArg;

template <class T>
nb::object concat_typed(const std::vector<Array>& xs, int threads, const OutArg& out_arg) {
  std::vector<const void*> ptrs;
  std::vector<std::size_t> widths;
  g::Shape shape = g::shape_of(xs[0]);
  std::size_t total = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const std::string name = "xs[" + std::to_string(i) + "]";
    ptrs.push_back(g::data<T>(xs[i], name.c_str()));
    bool same = xs[i].ndim() == shape.size();
    for (std::size_t d = 0; same && d + 1 < shape.size(); ++d) same = xs[i].shape(d) == shape[d];
    if (!same) g::fail(name, "shape " + g::shape_str(xs[i]) + " differs from xs[0] " + g::shape_str(xs[0]) + " outside the last axis");
    widths.push_back(xs[i].shape(shape.size() - 1));
    total += widths.back();
  }
  std::size_t rows = 1;
  for (std::size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  shape.back() = total;
  bnnflow::glue::ConcatArgs a{ptrs.data(), widths.data(), xs.size(), nullptr, rows, sizeof(T)};
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  std::vector<std::string> names(xs.size());
  std::vector<bnnflow::bind::Span> spans;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    names[i] = "xs[" + std::to_string(i) + "]";
    spans.push_back(bnnflow::bind::span_of(xs[i], names[i].c_str()));
  }
  T* y = nullptr;
  auto out = bnnflow::bind::output<T>(out_arg, shape, &y, spans);
  a.y = y;
  {
    nb::gil_scoped_release release;
    bnnflow::glue::concat(a, pool);
  }
  return out.obj;
}

nb::object concat(const std::vector<Array>& xs, const std::optional<std::string>& isa, int threads,
                  const OutArg& out) {
  g::resolve_isa(isa);  // validated for a uniform API; the copy kernel is the same on every ISA
  if (xs.empty()) g::fail("xs", "needs at least one array");
  if (xs[0].ndim() < 1) g::fail("xs[0]", "must have at least one dimension");
  if (g::has_dtype<std::int8_t>(xs[0])) return concat_typed<std::int8_t>(xs, threads, out);
  if (g::has_dtype<float>(xs[0])) return concat_typed<float>(xs, threads, out);
  g::fail("xs[0]", "expected dtype int8 or float32, got " + g::dtype_name(xs[0].dtype()));
}

}  // namespace

BNNFLOW_BIND(glue_concat) {
  m.def("concat", &concat, "xs"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Concatenate int8 or float32 arrays (same dtype, same shape except the last axis) "
        "along the last (channel) axis. out: optional array of the result's dtype and shape, "
        "written in place and returned.");
}
