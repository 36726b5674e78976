// bdense (bit-GEMM) and its one-time weight preparation (docs/numerics.md §4).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include "bindings/epilogue_args.h"
#include "bindings/ndarray_check.h"
#include "bindings/registry.h"
#include "kernels/bdense/bdense.h"

namespace nb = nanobind;
using namespace bnnflow;
using bind::AnyArray;

BNNFLOW_BIND(bdense) {
  m.def(
      "prepare_bdense_weights",
      [](const AnyArray& weights, int cin, const std::optional<std::string>& isa) {
        const Isa chosen = bind::resolve_isa(isa);
        const uint32_t* wp = bind::data<uint32_t>(weights, "weights", 2);
        bind::require_positive(cin, "cin");
        if (cin > 65535) bind::fail("cin", "must be <= 65535, got " + std::to_string(cin));
        bind::require_dim(weights, "weights", 1, (static_cast<int64_t>(cin) + 31) / 32,
                          "ceil(cin/32) packed words");
        const int cout = static_cast<int>(weights.shape(0));
        bind::require_positive(cout, "weights.shape[0] (output channels)");
        return prepare_bdense_weights(wp, cout, cin, chosen);
      },
      nb::arg("weights"), nb::arg("cin"), nb::kw_only(), nb::arg("isa") = nb::none(),
      "Re-arrange packed dense weights uint32 [Cout, ceil(cin/32)] once for one ISA; returns a\n"
      "BconvWeights (kh = kw = 1, groups = 1) for bdense.");

  m.def(
      "bdense",
      [](const AnyArray& x, const BconvWeights& weights, const std::string& epilogue,
         std::optional<std::pair<int32_t, int32_t>> clamp, std::optional<AnyArray> scale,
         std::optional<AnyArray> bias, std::optional<AnyArray> multiplier,
         std::optional<AnyArray> offset, std::optional<AnyArray> shift,
         std::optional<AnyArray> threshold, int out_groups,
         const std::optional<std::string>& isa, int threads, const bind::OutArg& out_arg) {
        if (isa && bind::resolve_isa(isa) != weights.isa()) {
          throw std::invalid_argument("isa='" + *isa + "' but weights were prepared for '" +
                                      isa_name(weights.isa()) + "'");
        }
        if (weights.kh != 1 || weights.kw != 1 || weights.groups != 1) {
          throw std::invalid_argument("weights were not prepared with prepare_bdense_weights");
        }
        const uint32_t* xp = bind::data<uint32_t>(x, "x", 2);
        bind::require_dim(x, "x", 1, weights.wg, "ceil(cin/32) packed words");
        bind::check_pad_bits(xp, x.shape(0), 1, weights.wg, weights.cin, "x");
        bind::EpilogueArgs ea{epilogue, clamp, scale, bias, multiplier, offset,
                              shift,    threshold, out_groups};
        const Epilogue ep = bind::parse_epilogue(ea, weights.cout);
        const int n = static_cast<int>(x.shape(0));
        void* out;
        nb::object result = bind::new_output(ep, {static_cast<size_t>(n)}, weights.cout, &out,
                                             out_arg, bind::argument_spans(x, ea));
        ThreadPool& pool = bind::pool_for(threads);
        if (n > 0) {
          nb::gil_scoped_release release;
          bdense(weights, xp, n, ep, out, pool);
        }
        return result;
      },
      nb::arg("x"), nb::arg("weights"), nb::kw_only(), BNNFLOW_EPILOGUE_ARGS,
      nb::arg("isa") = nb::none(), nb::arg("threads") = 1, nb::arg("out") = nb::none(),
      nb::sig("def bdense(x: numpy.ndarray, weights: BconvWeights, *, epilogue: str = 'int32', "
              "clamp: tuple[int, int] | None = None, scale: numpy.ndarray | None = None, "
              "bias: numpy.ndarray | None = None, multiplier: numpy.ndarray | None = None, "
              "offset: numpy.ndarray | None = None, shift: numpy.ndarray | None = None, "
              "threshold: numpy.ndarray | None = None, out_groups: int = 1, "
              "isa: str | None = None, threads: int = 1, out: numpy.ndarray | None = None) "
              "-> numpy.ndarray"),
      "Binary dense layer: packed x uint32 [N, ceil(cin/32)] (pad bits beyond cin must be 0;\n"
      "checked), prepared weights (cin <= 65535);\n"
      "d[n, o] = cin - 2*popcount(x[n] xor w[o]). Output [N, Cout] (or packed words).\n"
      BNNFLOW_EPILOGUE_DOC
      "out: optional C-contiguous array of the result's dtype and shape, written and returned.");
}
