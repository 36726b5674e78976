// pack_bits: int8 / float32 NHWC -> packed uint32 (docs/numerics.md §2).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/pack/pack.h"

namespace nb = nanobind;
using namespace bnnflow;
using bind::AnyArray;

namespace {

template <typename T, typename Th>
bind::Result<nb::ndarray<nb::numpy, uint32_t>> pack_impl(const AnyArray& x, const AnyArray& t, int groups,
                                                         Isa isa, int threads, const char* t_dtype,
                                                         const bind::OutArg& out_arg) {
  const T* xp = bind::data<T>(x, "x", -1);
  if (t.dtype() != nb::dtype<Th>()) {
    bind::fail("threshold", std::string("expected dtype ") + t_dtype + " (x has dtype " +
                                bind::type_name<T>() + "), got " + bind::dtype_name(t.dtype()));
  }
  const Th* tp = bind::data<Th>(t, "threshold", 1);
  const int64_t c = static_cast<int64_t>(x.shape(x.ndim() - 1));
  bind::require_positive(groups, "groups");
  if (c < 1 || c % groups != 0) {
    throw std::invalid_argument("x has " + std::to_string(c) +
                                " channels (last axis), not a positive multiple of groups=" +
                                std::to_string(groups));
  }
  bind::require_dim(t, "threshold", 0, c, "one threshold per channel of x");
  size_t pixels = 1;
  std::vector<size_t> shape;
  for (size_t i = 0; i + 1 < x.ndim(); ++i) {
    pixels *= x.shape(i);
    shape.push_back(x.shape(i));
  }
  const int words = groups * ((static_cast<int>(c) / groups + 31) / 32);
  shape.push_back(static_cast<size_t>(words));
  uint32_t* out;
  auto result = bind::output<uint32_t>(out_arg, shape, &out,
                                       {bind::span_of(x, "x"), bind::span_of(t, "threshold")});
  ThreadPool& pool = bind::pool_for(threads);
  if (pixels > 0) {
    nb::gil_scoped_release release;
    if constexpr (std::is_same_v<T, int8_t>) {
      pack_int8(xp, tp, pixels, static_cast<int>(c), groups, out, isa, pool);
    } else {
      pack_f32(xp, tp, pixels, static_cast<int>(c), groups, out, isa, pool);
    }
  }
  return result;
}

}  // namespace

BNNFLOW_BIND(pack) {
  m.def(
      "pack_bits",
      [](const AnyArray& x, const AnyArray& threshold, int groups,
         const std::optional<std::string>& isa,
         int threads, const bind::OutArg& out) -> bind::Result<nb::ndarray<nb::numpy, uint32_t>> {
        const Isa chosen = bind::resolve_isa(isa);
        if (x.dtype() == nb::dtype<int8_t>()) {
          return pack_impl<int8_t, int32_t>(x, threshold, groups, chosen, threads, "int32", out);
        }
        if (x.dtype() == nb::dtype<float>()) {
          return pack_impl<float, float>(x, threshold, groups, chosen, threads, "float32", out);
        }
        bind::fail("x", "expected dtype int8 or float32, got " + bind::dtype_name(x.dtype()));
      },
      nb::arg("x"), nb::arg("threshold"), nb::arg("groups") = 1, nb::kw_only(),
      nb::arg("isa") = nb::none(), nb::arg("threads") = 1, nb::arg("out") = nb::none(),
      "Binarise x [..., C] (int8 with int32 threshold, or float32 with float32 threshold):\n"
      "bit of channel c = x[..., c] < threshold[c]; each of `groups` groups of C/groups\n"
      "channels packed into its own ceil((C/groups)/32) little-endian uint32 words (pad bits\n"
      "0). Returns uint32 [..., groups*ceil((C/groups)/32)] (into out when given).");
}
