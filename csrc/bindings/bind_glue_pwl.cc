// Python bindings of the piecewise-linear activations pwl_int8 and pwl_f32.
#include "bindings/fixed_point_check.h"
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/pwl/pwl.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
template <class T>
using Res = bnnflow::bind::Result<nb::ndarray<nb::numpy, T>>;

// Both lines, over every int8 q, must stay in int32 (the manifest's rule for pwl).
void check_pwl_range(const bnnflow::glue::PwlInt8Args& a) {
  g::check_fixed_point(bnnflow::engine::OpKind::kPwl, a.channels,
                       [&](const std::string& role, std::size_t c) -> std::int64_t {
                         if (role == "Mp") return a.Mp[c];
                         if (role == "Bp") return a.Bp[c];
                         if (role == "Mn") return a.Mn[c];
                         if (role == "Bn") return a.Bn[c];
                         return a.s[c];
                       });
}

Res<std::int8_t> pwl_int8(const Array& x, const Array& t, const Array& Mp, const Array& Bp,
                          const Array& Mn, const Array& Bn, const Array& s,
                          const std::optional<std::string>& isa, int threads, const OutArg& out_arg) {
  const std::size_t C = g::last_dim(x, "x");
  bnnflow::glue::PwlInt8Args a{};
  a.x = g::data<std::int8_t>(x, "x");
  a.t = g::vec<std::int32_t>(t, "t", C);
  a.Mp = g::vec<std::int16_t>(Mp, "Mp", C);
  a.Bp = g::vec<std::int32_t>(Bp, "Bp", C);
  a.Mn = g::vec<std::int16_t>(Mn, "Mn", C);
  a.Bn = g::vec<std::int32_t>(Bn, "Bn", C);
  a.s = g::shifts(s, "s", C, 30);
  a.channels = C;
  check_pwl_range(a);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), pwl_int8);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  a.rows = C == 0 ? 0 : x.size() / C;
  auto out = bnnflow::bind::output<std::int8_t>(
      out_arg, g::shape_of(x), &a.y,
      {span_of(x, "x", true), span_of(t, "t"), span_of(Mp, "Mp"), span_of(Bp, "Bp"), span_of(Mn, "Mn"),
       span_of(Bn, "Bn"), span_of(s, "s")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

Res<float> pwl_f32(const Array& x, const Array& t, const Array& kp, const Array& bp,
                   const Array& kn, const Array& bn, const std::optional<std::string>& isa,
                   int threads, const OutArg& out_arg) {
  const std::size_t C = g::last_dim(x, "x");
  bnnflow::glue::PwlF32Args a{};
  a.x = g::data<float>(x, "x");
  a.t = g::vec<float>(t, "t", C);
  a.kp = g::vec<float>(kp, "kp", C);
  a.bp = g::vec<float>(bp, "bp", C);
  a.kn = g::vec<float>(kn, "kn", C);
  a.bn = g::vec<float>(bn, "bn", C);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), pwl_f32);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  a.channels = C;
  a.rows = C == 0 ? 0 : x.size() / C;
  auto out = bnnflow::bind::output<float>(
      out_arg, g::shape_of(x), &a.y,
      {span_of(x, "x", true), span_of(t, "t"), span_of(kp, "kp"), span_of(bp, "bp"), span_of(kn, "kn"),
       span_of(bn, "bn")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

}  // namespace

BNNFLOW_BIND(glue_pwl) {
  m.def("pwl_int8", &pwl_int8, "x"_a, "t"_a, "Mp"_a, "Bp"_a, "Mn"_a, "Bn"_a, "s"_a,
        "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Per-channel piecewise-linear int8 activation (PReLU, RPReLU, two-sided PReLU, ReLU): "
        "v = x >= t[c] ? Mp[c]*x + Bp[c] : Mn[c]*x + Bn[c]; y = clamp((v + r) >> s[c], -128, 127). "
        "t, Bp, Bn int32, Mp, Mn int16, s int32 in [0, 30]. out: optional, may be x itself.");
  m.def("pwl_f32", &pwl_f32, "x"_a, "t"_a, "kp"_a, "bp"_a, "kn"_a, "bn"_a, "isa"_a = nb::none(),
        "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Per-channel piecewise-linear float32 activation: y = x >= t[c] ? kp[c]*x + bp[c] : "
        "kn[c]*x + bn[c] (all parameters float32 of shape (C,)); out: optional, may be x itself.");
}
