// Python bindings of requant (int8 -> int8) and requant32 (int32 -> int8).
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "bindings/fixed_point_check.h"
#include "bindings/requant_check.h"
#include "kernels/requant/requant.h"
#include "kernels/requant/requant32_plan.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
using I8Result = bnnflow::bind::Result<nb::ndarray<nb::numpy, std::int8_t>>;

// M*q + B + r within int32 for every int8 q (the manifest's rule for requant).
void check_requant_range(const bnnflow::glue::RequantArgs& a, std::size_t C) {
  g::check_fixed_point(bnnflow::engine::OpKind::kRequant, C,
                       [&](const std::string& role, std::size_t c) -> std::int64_t {
                         return role == "M" ? a.M[c] : role == "B" ? a.B[c] : a.s[c];
                       });
}

I8Result requant(const Array& x, const Array& M, const Array& B, const Array& s,
                 const std::optional<std::string>& isa, int threads, const OutArg& out_arg) {
  const std::size_t C = g::last_dim(x, "x");
  bnnflow::glue::RequantArgs a{};
  a.x = g::data<std::int8_t>(x, "x");
  a.M = g::vec<std::int16_t>(M, "M", C);
  a.B = g::vec<std::int32_t>(B, "B", C);
  a.s = g::shifts(s, "s", C, 30);
  check_requant_range(a, C);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), requant);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  a.channels = C;
  a.rows = C == 0 ? 0 : x.size() / C;
  auto out = bnnflow::bind::output<std::int8_t>(
      out_arg, g::shape_of(x), &a.y,
      {span_of(x, "x", true), span_of(M, "M"), span_of(B, "B"), span_of(s, "s")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

I8Result requant32(const Array& x, const Array& M, const Array& B, const Array& s,
                   const std::optional<std::string>& isa, int threads, const OutArg& out_arg,
                   bool prepared) {
  const std::size_t C = g::last_dim(x, "x");
  bnnflow::glue::Requant32Args a{};
  a.x = g::data<std::int32_t>(x, "x");
  const g::Requant32Params q = g::requant32_params(M, B, s, C);
  a.M = q.M, a.B = q.B, a.s = q.s;
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), requant32);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  a.channels = C;
  a.rows = C == 0 ? 0 : x.size() / C;
  std::unique_ptr<bnnflow::glue::Requant32Plan> plan;
  if (prepared) {
    plan = std::make_unique<bnnflow::glue::Requant32Plan>(a.M, a.B, a.s, C);
    a.prep = &plan->view();
  }
  auto out = bnnflow::bind::output<std::int8_t>(
      out_arg, g::shape_of(x), &a.y, {span_of(x, "x"), span_of(M, "M"), span_of(B, "B"), span_of(s, "s")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

// The form requant32_plan.h folds (M, B, s) into: "int32", "high32" or "int64".
std::string requant32_mode(const Array& M, const Array& B, const Array& s) {
  const std::size_t C = M.size();
  const g::Requant32Params q = g::requant32_params(M, B, s, C);
  return bnnflow::glue::rq32_mode_name(bnnflow::glue::Requant32Plan(q.M, q.B, q.s, C).mode());
}

}  // namespace

BNNFLOW_BIND(glue_requant) {
  m.def("requant", &requant, "x"_a, "M"_a, "B"_a, "s"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "int8 requantization per channel (last axis): y = clamp((M[c]*x + B[c] + r) >> s[c], "
        "-128, 127), r = 2^(s-1) for s > 0 else 0. x int8, M int16, B int32, s int32 in [0, 30]; "
        "M*x + B + r must fit int32 for every int8 x. out: optional int8 array of x's shape written in "
        "place (may be x itself) and returned.");
  m.def("requant32", &requant32, "x"_a, "M"_a, "B"_a, "s"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "prepared"_a = false,
        "int32 -> int8 requantization per channel (last axis), int64 arithmetic: y = clamp((M[c]*x "
        "+ B[c] + r) >> s[c], -128, 127). x int32, M int32, B int64, s int32 in [0, 62]. out: optional int8 array of x's shape, written in "
        "place and returned. prepared: fold (M, B, s) first as the engine does once per model "
        "(requant32_mode says into which form) and run that form; the result is the same.");
  m.def("requant32_mode", &requant32_mode, "M"_a, "B"_a, "s"_a,
        "The form the engine folds requant32's (M, B, s) into: 'int32' (int32 lanes on x clamped "
        "to the unsaturated range), 'high32' (the high 32 bits of M*x + B + r, for s >= 32) or "
        "'int64' (the plain formula).");
}
