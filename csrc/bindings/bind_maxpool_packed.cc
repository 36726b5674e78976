// maxpool_packed: AND of packed bits over the taps inside the image (docs/numerics.md §5).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/bconv/bconv.h"
#include "kernels/maxpool_packed/maxpool_packed.h"

namespace nb = nanobind;
using namespace bnnflow;
using bind::AnyArray;

BNNFLOW_BIND(maxpool_packed) {
  m.def(
      "maxpool_packed",
      [](const AnyArray& x, int kernel, int stride, int padding,
         const std::optional<std::string>& isa, int threads,
         const bind::OutArg& out_arg) -> bind::Result<nb::ndarray<nb::numpy, uint32_t>> {
        const Isa chosen = bind::resolve_isa(isa);
        const uint32_t* xp = bind::data<uint32_t>(x, "x", 4);
        bind::require_spatial(x, "x");
        bind::check_window(x.shape(1), x.shape(2), kernel, kernel, stride, padding, true);
        PoolGeometry g;
        g.n = static_cast<int>(x.shape(0));
        g.h = static_cast<int>(x.shape(1));
        g.w = static_cast<int>(x.shape(2));
        g.words = static_cast<int>(x.shape(3));
        g.kh = g.kw = kernel;
        g.stride = stride;
        g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = padding;
        const int ho = conv_out_size(g.h, kernel, stride, padding, padding);
        const int wo = conv_out_size(g.w, kernel, stride, padding, padding);
        uint32_t* out;
        auto result = bind::output<uint32_t>(
            out_arg, {x.shape(0), static_cast<size_t>(ho), static_cast<size_t>(wo), x.shape(3)},
            &out, {bind::span_of(x, "x")});
        ThreadPool& pool = bind::pool_for(threads);
        if (g.n > 0 && g.words > 0) {
          nb::gil_scoped_release release;
          maxpool_packed(xp, g, out, chosen, pool);
        }
        return result;
      },
      nb::arg("x"), nb::arg("kernel"), nb::arg("stride"), nb::arg("padding") = 0, nb::kw_only(),
      nb::arg("isa") = nb::none(), nb::arg("threads") = 1, nb::arg("out") = nb::none(),
      "Max pooling of packed x uint32 [N, H, W, words] over kernel x kernel windows: max of\n"
      "+-1 values = AND of their bits over the taps inside the image (padded taps ignored).\n"
      "Needs 0 <= padding <= kernel/2, 1 <= stride <= 64. Returns uint32 [N, Ho, Wo, words].");
}
