// bconv2d and its one-time weight preparation (docs/numerics.md §4).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include "bindings/epilogue_args.h"
#include "bindings/ndarray_check.h"
#include "bindings/registry.h"
#include "kernels/bconv/bconv.h"
#include "measure/ceiling.h"

namespace nb = nanobind;
using namespace bnnflow;
using bind::AnyArray;

namespace {

PadMode parse_pad_mode(const std::string& mode) {
  if (mode == "zero") return PadMode::kZero;
  if (mode == "one") return PadMode::kOne;
  if (mode == "valid") return PadMode::kValid;
  throw std::invalid_argument("pad_mode must be 'zero', 'one' or 'valid', got '" + mode + "'");
}

// The ISA a prepared-weights call runs on: the weights' own; an explicit isa must match it.
Isa weights_isa(const BconvWeights& w, const std::optional<std::string>& isa) {
  if (isa) {
    const Isa asked = bind::resolve_isa(isa);
    if (asked != w.isa()) {
      throw std::invalid_argument("isa='" + *isa + "' but weights were prepared for '" +
                                  isa_name(w.isa()) + "'; prepare them with isa='" + *isa +
                                  "'");
    }
  }
  return w.isa();
}

nb::object bconv2d_py(const AnyArray& x, const BconvWeights& w, int stride, int padding,
                      const std::string& pad_mode, const bind::EpilogueArgs& epargs,
                      const std::optional<std::string>& isa, int threads,
                      const bind::OutArg& out_arg) {
  weights_isa(w, isa);
  const uint32_t* xp = bind::data<uint32_t>(x, "x", 4);
  bind::require_dim(x, "x", 3, static_cast<int64_t>(w.groups) * w.wg,
                    "groups * ceil((cin/groups)/32) packed words per pixel");
  bind::require_spatial(x, "x");
  bind::check_window(x.shape(1), x.shape(2), w.kh, w.kw, stride, padding, false);
  BconvGeometry geo;
  geo.n = static_cast<int>(x.shape(0));
  geo.h = static_cast<int>(x.shape(1));
  geo.w = static_cast<int>(x.shape(2));
  geo.stride = stride;
  geo.pad_top = geo.pad_left = geo.pad_bottom = geo.pad_right = padding;
  geo.mode = parse_pad_mode(pad_mode);
  if (geo.mode == PadMode::kValid && padding != 0) {
    bind::fail("padding", "pad_mode='valid' needs padding=0, got " + std::to_string(padding));
  }
  const int ho = conv_out_size(geo.h, w.kh, stride, padding, padding);
  const int wo = conv_out_size(geo.w, w.kw, stride, padding, padding);
  bind::check_pad_bits(xp, x.size() / x.shape(3), w.groups, w.wg, w.cin / w.groups, "x");
  const Epilogue ep = bind::parse_epilogue(epargs, w.cout);
  void* out;
  nb::object result = bind::new_output(
      ep, {static_cast<size_t>(geo.n), static_cast<size_t>(ho), static_cast<size_t>(wo)},
      w.cout, &out, out_arg, bind::argument_spans(x, epargs));
  ThreadPool& pool = bind::pool_for(threads);
  if (geo.n > 0) {
    nb::gil_scoped_release release;
    bconv2d(w, xp, geo, ep, out, pool);
  }
  return result;
}

}  // namespace

BNNFLOW_BIND(bconv) {
  nb::class_<BconvWeights>(m, "BconvWeights",
                           "Packed binary weights re-arranged once for one ISA's micro-kernel "
                           "(see prepare_bconv_weights).")
      .def_prop_ro("isa", [](const BconvWeights& w) { return std::string(isa_name(w.isa())); })
      .def_prop_ro("kernel", [](const BconvWeights& w) { return std::string(w.kernel->name); })
      .def_ro("cout", &BconvWeights::cout)
      .def_ro("kh", &BconvWeights::kh)
      .def_ro("kw", &BconvWeights::kw)
      .def_ro("cin", &BconvWeights::cin)
      .def_ro("groups", &BconvWeights::groups)
      .def("__repr__", [](const BconvWeights& w) {
        return "BconvWeights(cout=" + std::to_string(w.cout) + ", kh=" + std::to_string(w.kh) +
               ", kw=" + std::to_string(w.kw) + ", cin=" + std::to_string(w.cin) +
               ", groups=" + std::to_string(w.groups) + ", isa='" + isa_name(w.isa()) +
               "', kernel='" + w.kernel->name + "')";
      });

  m.def(
      "prepare_bconv_weights",
      [](const AnyArray& weights, int cin, int groups, const std::optional<std::string>& isa) {
        const Isa chosen = bind::resolve_isa(isa);
        const uint32_t* wp = bind::data<uint32_t>(weights, "weights", 4);
        bind::require_positive(groups, "groups");
        bind::require_positive(cin, "cin");
        const int cout = static_cast<int>(weights.shape(0));
        bind::require_positive(cout, "weights axis 0 (cout)");
        bind::require_positive(static_cast<int64_t>(weights.shape(1)), "weights axis 1 (kh)");
        bind::require_positive(static_cast<int64_t>(weights.shape(2)), "weights axis 2 (kw)");
        if (cin % groups != 0) {
          bind::fail("cin", std::to_string(cin) + " is not a multiple of groups=" +
                                std::to_string(groups));
        }
        if (cout % groups != 0) {
          bind::fail("weights", "axis 0 has " + std::to_string(cout) +
                                    " output channels, not a multiple of groups=" +
                                    std::to_string(groups));
        }
        const int64_t cg = static_cast<int64_t>(cin) / groups;
        const int64_t k = static_cast<int64_t>(weights.shape(1)) * weights.shape(2) * cg;
        if (k > 65535) {
          bind::fail("cin", "KH*KW*cin/groups = " + std::to_string(k) +
                                " exceeds 65535 (docs/numerics.md: |d| <= KH*KW*Cg < 65536)");
        }
        bind::require_dim(weights, "weights", 3, (cg + 31) / 32,
                          "ceil((cin/groups)/32) packed words per tap");
        return prepare_bconv_weights(wp, cout, static_cast<int>(weights.shape(1)),
                                     static_cast<int>(weights.shape(2)), cin, groups, chosen);
      },
      nb::arg("weights"), nb::arg("cin"), nb::arg("groups") = 1, nb::kw_only(),
      nb::arg("isa") = nb::none(),
      "Re-arrange packed binary weights uint32 [Cout, KH, KW, ceil((cin/groups)/32)] (bit 1 =\n"
      "-1) once, for one ISA's micro-kernel: [G][Cout/G blocks][KH][KW][Wg][block] with output\n"
      "channels innermost, plus per-tap weight popcounts for 'zero' padding. Returns a\n"
      "BconvWeights bound to that ISA (isa=None: the active ISA).");

  m.def(
      "bconv2d",
      [](const AnyArray& x, const BconvWeights& weights, int stride, int padding,
         const std::string& pad_mode, const std::string& epilogue,
         std::optional<std::pair<int32_t, int32_t>> clamp, std::optional<AnyArray> scale,
         std::optional<AnyArray> bias, std::optional<AnyArray> multiplier,
         std::optional<AnyArray> offset, std::optional<AnyArray> shift,
         std::optional<AnyArray> threshold, int out_groups,
         const std::optional<std::string>& isa, int threads, const bind::OutArg& out) {
        bind::EpilogueArgs ea{epilogue, clamp, scale, bias, multiplier, offset,
                              shift,    threshold, out_groups};
        return bconv2d_py(x, weights, stride, padding, pad_mode, ea, isa, threads, out);
      },
      nb::arg("x"), nb::arg("weights"), nb::kw_only(), nb::arg("stride") = 1,
      nb::arg("padding") = 0, nb::arg("pad_mode") = "zero", BNNFLOW_EPILOGUE_ARGS,
      nb::arg("isa") = nb::none(), nb::arg("threads") = 1, nb::arg("out") = nb::none(),
      nb::sig("def bconv2d(x: numpy.ndarray, weights: BconvWeights, *, stride: int = 1, "
              "padding: int = 0, pad_mode: str = 'zero', epilogue: str = 'int32', "
              "clamp: tuple[int, int] | None = None, scale: numpy.ndarray | None = None, "
              "bias: numpy.ndarray | None = None, multiplier: numpy.ndarray | None = None, "
              "offset: numpy.ndarray | None = None, shift: numpy.ndarray | None = None, "
              "threshold: numpy.ndarray | None = None, out_groups: int = 1, "
              "isa: str | None = None, threads: int = 1, out: numpy.ndarray | None = None) "
              "-> numpy.ndarray"),
      "Binary direct convolution of packed x uint32 [N, H, W, G*Wg] with prepared weights\n"
      "(pad bits beyond channel Cg in each group's last word must be 0, as pack_bits writes\n"
      "them; checked, ValueError otherwise; 1 <= stride <= 64, 0 <= padding <= 1024):\n"
      "d = sum over taps inside the image of Cg - 2*popcount(x xor w), plus per padded tap 0\n"
      "(pad_mode='zero') or Cg - 2*popcount(w) ('one'); 'valid' needs padding=0.\n"
      "Output [N, Ho, Wo, Cout] (or packed words), Ho = (H + 2*padding - KH)//stride + 1.\n"
      BNNFLOW_EPILOGUE_DOC
      "isa must be None or the weights' ISA; threads >= 1 splits rows and channel blocks.\n"
      "out: optional C-contiguous array of the result's dtype and shape, written and returned.");

  m.def(
      "xor_popcount_ceiling",
      [](const std::optional<std::string>& isa, size_t words, int passes, int repeats) {
        const Isa chosen = bind::resolve_isa(isa);
        std::vector<CeilingResult> results;
        {
          nb::gil_scoped_release release;
          results = measure_ceiling(chosen, words, passes, repeats);
        }
        nb::list out;
        for (const CeilingResult& r : results) {
          nb::dict d;
          d["isa"] = std::string(isa_name(chosen));
          d["method"] = std::string(r.method);
          d["gbmacs"] = r.gbmacs;
          out.append(d);
        }
        return out;
      },
      nb::arg("isa") = nb::none(), nb::kw_only(), nb::arg("words") = 2048,
      nb::arg("passes") = 200, nb::arg("repeats") = 7,
      "Measure one core's xor + popcount + accumulate throughput with each micro-kernel of an\n"
      "ISA: one operand streams from an L1-resident buffer of `words` uint32 words, the other\n"
      "is four register-held words. Returns [{'isa', 'method', 'gbmacs'}] with the median over\n"
      "`repeats` runs of `passes` passes, in G binary MACs/s.");
}
