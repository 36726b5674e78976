// Python binding of the channel shuffle (int8 or float32).
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/channel_shuffle/channel_shuffle.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;

namespace {

using bnnflow::bind::OutArg;

template <class T>
nb::object shuffle_typed(const Array& x, int groups, int threads, const OutArg& out_arg) {
  const T* xp = g::data<T>(x, "x");
  g::Shape shape = g::shape_of(x);
  const std::size_t c = shape.back();
  if (groups < 1 || c % static_cast<std::size_t>(groups) != 0) {
    g::fail("groups", "must be >= 1 and divide the " + std::to_string(c) +
                          " channels (last axis), got " + std::to_string(groups));
  }
  std::size_t rows = 1;
  for (std::size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  std::vector<bnnflow::bind::Span> spans{bnnflow::bind::span_of(x, "x")};
  T* y = nullptr;
  auto out = bnnflow::bind::output<T>(out_arg, shape, &y, spans);
  bnnflow::glue::ChannelShuffleArgs a{xp, y, rows, c, static_cast<std::size_t>(groups),
                                      sizeof(T)};
  {
    nb::gil_scoped_release release;
    bnnflow::glue::channel_shuffle(a, pool);
  }
  return out.obj;
}

nb::object channel_shuffle(const Array& x, int groups, const std::optional<std::string>& isa,
                           int threads, const OutArg& out) {
  g::resolve_isa(isa);  // validated for a uniform API; the permutation is the same on every ISA
  if (x.ndim() < 1) g::fail("x", "must have at least one dimension");
  if (g::has_dtype<std::int8_t>(x)) return shuffle_typed<std::int8_t>(x, groups, threads, out);
  if (g::has_dtype<float>(x)) return shuffle_typed<float>(x, groups, threads, out);
  g::fail("x", "expected dtype int8 or float32, got " + g::dtype_name(x.dtype()));
}

}  // namespace

BNNFLOW_BIND(glue_channel_shuffle) {
  m.def("channel_shuffle", &channel_shuffle, "x"_a, "groups"_a, "isa"_a = nb::none(),
        "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Channel shuffle (ShuffleNet) of an int8 or float32 array on its last axis, C = g*n: "
        "y[..., j*g + i] = x[..., i*n + j]. out: optional array of x's dtype and shape "
        "(not overlapping x), written in place and returned.");
}
