// Python bindings of the residual adds: add_int8 (fixed point) and add_f32.
#include "bindings/fixed_point_check.h"
#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "bindings/registry.h"
#include "kernels/add/add.h"

namespace nb = nanobind;
using namespace nb::literals;
using bnnflow::bind::Array;
namespace g = bnnflow::bind;

namespace {

using bnnflow::bind::OutArg;
using bnnflow::bind::span_of;
template <class T>
using Res = bnnflow::bind::Result<nb::ndarray<nb::numpy, T>>;

// Ma*a + Mb*b + B + r within int32 for every int8 a, b (the manifest's rule for add).
void check_add_range(const std::int16_t* Ma, const std::int16_t* Mb, const std::int32_t* B,
                     const std::int32_t* s, std::size_t C) {
  g::check_fixed_point(bnnflow::engine::OpKind::kAdd, C,
                       [&](const std::string& role, std::size_t c) -> std::int64_t {
                         if (role == "Ma") return Ma[c];
                         if (role == "Mb") return Mb[c];
                         return role == "B" ? B[c] : s[c];
                       });
}

Res<std::int8_t> add_int8(const Array& xa, const Array& xb, const Array& Ma, const Array& Mb,
                          const Array& B, const Array& s, const std::optional<std::string>& isa,
                          int threads, const OutArg& out_arg) {
  const std::size_t C = g::last_dim(xa, "a");
  bnnflow::glue::AddInt8Args a{};
  a.a = g::data<std::int8_t>(xa, "a");
  a.b = g::data<std::int8_t>(xb, "b");
  g::check_same_shape(xa, xb, "b");
  a.Ma = g::vec<std::int16_t>(Ma, "Ma", C);
  a.Mb = g::vec<std::int16_t>(Mb, "Mb", C);
  a.B = g::vec<std::int32_t>(B, "B", C);
  a.s = g::shifts(s, "s", C, 30);
  check_add_range(a.Ma, a.Mb, a.B, a.s, C);
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), add_int8);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  a.channels = C;
  a.rows = C == 0 ? 0 : xa.size() / C;
  auto out = bnnflow::bind::output<std::int8_t>(
      out_arg, g::shape_of(xa), &a.y,
      {span_of(xa, "a", true), span_of(xb, "b", true), span_of(Ma, "Ma"), span_of(Mb, "Mb"),
       span_of(B, "B"), span_of(s, "s")});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

Res<float> add_f32(const Array& xa, const Array& xb, const std::optional<std::string>& isa,
                   int threads, const OutArg& out_arg) {
  bnnflow::glue::AddF32Args a{};
  a.a = g::data<float>(xa, "a");
  a.b = g::data<float>(xb, "b");
  g::check_same_shape(xa, xb, "b");
  auto fn = BNNFLOW_GLUE_PICK(g::resolve_isa(isa), add_f32);
  bnnflow::ThreadPool* pool = &g::pool_for(threads);
  a.size = xa.size();
  auto out = bnnflow::bind::output<float>(out_arg, g::shape_of(xa), &a.y,
                                          {span_of(xa, "a", true), span_of(xb, "b", true)});
  {
    nb::gil_scoped_release release;
    fn(a, pool);
  }
  return out;
}

}  // namespace

BNNFLOW_BIND(glue_add) {
  m.def("add_int8", &add_int8, "a"_a, "b"_a, "Ma"_a, "Mb"_a, "B"_a, "s"_a, "isa"_a = nb::none(),
        "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Residual add of two int8 tensors of the same shape, per channel (last axis): "
        "y = clamp((Ma[c]*a + Mb[c]*b + B[c] + r) >> s[c], -128, 127), r = 2^(s-1) for s > 0. "
        "Ma, Mb int16, B int32, s int32 in [0, 30]; the sum must fit int32. out: optional int8 array "
        "of a's shape written in place (may be a or b itself) and returned.");
  m.def("add_f32", &add_f32, "a"_a, "b"_a, "isa"_a = nb::none(), "threads"_a = 1, nb::kw_only(), "out"_a = nb::none(),
        "Elementwise float32 add y = a + b of two tensors of the same shape (out: optional, "
        "may be a or b itself).");
}
