// The optional `out=` argument every kernel binding takes: a writeable, C-contiguous numpy array
// of exactly the result's dtype and shape that the kernel writes in place and the binding
// returns (the same object). Without it the binding allocates a new array.
//
// Memory overlap between `out` and any array argument is rejected, except that an elementwise
// op may write exactly over one of its same-typed inputs (`Span::in_place_ok`): those kernels
// read every element before they write it.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace bnnflow::bind {

namespace nb = nanobind;

// What the caller passed as out= (None or an object still to be checked).
struct OutArg {
  nb::object obj;
  bool given() const { return obj.is_valid() && !obj.is_none(); }
};

// A returned array: `obj` is either `out` itself or a new array. NdArray only names the type
// in the function signature (numpy.ndarray[dtype=...]).
template <class NdArray>
struct Result {
  nb::object obj;
};

// The bytes an array argument occupies, for the overlap check.
struct Span {
  const void* data;
  std::size_t bytes;
  const char* name;
  bool in_place_ok = false;  // out may be exactly this array (elementwise ops)
};

template <class A>
Span span_of(const A& a, const char* name, bool in_place_ok = false) {
  return Span{a.data(), a.nbytes(), name, in_place_ok};
}

[[noreturn]] inline void out_fail(const std::string& why) {
  throw std::invalid_argument("out: " + why);
}

inline std::string shape_text(const std::vector<std::size_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

inline std::string dtype_text(nb::dlpack::dtype d) {
  switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
    case nb::dlpack::dtype_code::Int: return "int" + std::to_string(d.bits);
    case nb::dlpack::dtype_code::UInt: return "uint" + std::to_string(d.bits);
    case nb::dlpack::dtype_code::Float: return "float" + std::to_string(d.bits);
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: return "code " + std::to_string(d.code) + " of " + std::to_string(d.bits) + " bits";
  }
}

inline void check_overlap(const void* out, std::size_t out_bytes, const std::vector<Span>& ins) {
  const auto* o0 = static_cast<const std::uint8_t*>(out);
  for (const Span& s : ins) {
    if (s.bytes == 0 || out_bytes == 0) continue;
    const auto* i0 = static_cast<const std::uint8_t*>(s.data);
    const bool overlap = o0 < i0 + s.bytes && i0 < o0 + out_bytes;
    if (!overlap) continue;
    if (s.in_place_ok && i0 == o0 && s.bytes == out_bytes) continue;
    out_fail(std::string("overlaps the memory of ") + s.name +
             (s.in_place_ok ? " (only exactly the same array is allowed, for in-place)"
                            : "; pass a separate array"));
  }
}

// Checks `out` against dtype `want` (named `want_name`), `shape`, C-contiguity, writeability
// and overlap; returns its data pointer.
inline void* checked_out(const OutArg& out, nb::dlpack::dtype want, const char* want_name,
                         const std::vector<std::size_t>& shape, const std::vector<Span>& ins) {
  nb::ndarray<nb::ro, nb::device::cpu> a;
  if (!nb::hasattr(out.obj, "flags") || !nb::try_cast(out.obj, a)) {
    out_fail("must be a numpy.ndarray, got " + std::string(nb::type_name(out.obj.type()).c_str()));
  }
  if (!nb::cast<bool>(out.obj.attr("flags").attr("writeable"))) out_fail("must be writeable");
  if (a.dtype() != want) {
    out_fail(std::string("expected dtype ") + want_name + ", got " +
             dtype_text(a.dtype()));
  }
  bool same = a.ndim() == shape.size();
  for (std::size_t i = 0; same && i < shape.size(); ++i) same = a.shape(i) == shape[i];
  if (!same) {
    std::vector<std::size_t> got(a.ndim());
    for (std::size_t i = 0; i < a.ndim(); ++i) got[i] = a.shape(i);
    out_fail("expected shape " + shape_text(shape) + ", got " + shape_text(got));
  }
  std::int64_t expect = 1;
  for (std::size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.size() != 0 && a.stride(i) != expect) {
      out_fail("must be C-contiguous (use numpy.ascontiguousarray)");
    }
    expect *= static_cast<std::int64_t>(a.shape(i));
  }
  check_overlap(a.data(), a.nbytes(), ins);
  return const_cast<void*>(a.data());  // writeable: checked above
}

template <class T>
inline const char* out_dtype_name() {
  if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  else if constexpr (std::is_same_v<T, std::uint32_t>) return "uint32";
  else return "float32";
}

// The array a kernel writes T[shape] into: `out` (checked) or a new one.
template <class T>
Result<nb::ndarray<nb::numpy, T>> output(const OutArg& out, const std::vector<std::size_t>& shape,
                                         T** data, const std::vector<Span>& ins) {
  if (out.given()) {
    *data = static_cast<T*>(checked_out(out, nb::dtype<T>(), out_dtype_name<T>(), shape, ins));
    return {out.obj};
  }
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  T* p = new T[n == 0 ? 1 : n];
  nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<T*>(q); });
  *data = p;
  return {nb::cast(nb::ndarray<nb::numpy, T>(p, shape.size(), shape.data(), owner))};
}

}  // namespace bnnflow::bind

namespace nanobind::detail {

template <>
struct type_caster<bnnflow::bind::OutArg> {
  NB_TYPE_CASTER(bnnflow::bind::OutArg, const_name("numpy.ndarray"))
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    value.obj = borrow(src);
    return true;
  }
  static handle from_cpp(const bnnflow::bind::OutArg& v, rv_policy, cleanup_list*) noexcept {
    return v.obj.inc_ref();
  }
};

template <class NdArray>
struct type_caster<bnnflow::bind::Result<NdArray>> {
  NB_TYPE_CASTER(bnnflow::bind::Result<NdArray>, make_caster<NdArray>::Name)
  bool from_python(handle, uint8_t, cleanup_list*) noexcept { return false; }
  static handle from_cpp(const bnnflow::bind::Result<NdArray>& v, rv_policy, cleanup_list*) noexcept {
    return v.obj.inc_ref();
  }
};

}  // namespace nanobind::detail
