// Array validation and allocation helpers shared by the glue bindings (bind_glue_*.cc).
// Every check raises ValueError (std::invalid_argument) naming the offending argument.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "common/threadpool.h"

namespace bnnflow::bind::glue {

namespace nb = nanobind;
using Array = nb::ndarray<nb::ro, nb::device::cpu>;
using Shape = std::vector<std::size_t>;

[[noreturn]] inline void fail(const std::string& arg, const std::string& why) {
  throw std::invalid_argument(arg + ": " + why);
}

inline std::string dtype_name(nb::dlpack::dtype d) {
  const char* kind = "?";
  switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
    case nb::dlpack::dtype_code::Int: kind = "int"; break;
    case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
    case nb::dlpack::dtype_code::Float: kind = "float"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: break;
  }
  return std::string(kind) + std::to_string(d.bits);
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  else if constexpr (std::is_same_v<T, std::int16_t>) return "int16";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  else return "float32";
}

template <class T>
bool has_dtype(const Array& a) {
  return a.dtype() == nb::dtype<T>();
}

inline void check_contiguous(const Array& a, const char* name) {
  if (a.size() == 0) return;  // nothing to read; numpy reports arbitrary strides here
  std::int64_t expect = 1;
  for (std::size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expect) fail(name, "must be C-contiguous (use np.ascontiguousarray)");
    expect *= static_cast<std::int64_t>(a.shape(i));
  }
}

inline std::string shape_str(const Array& a) {
  std::string s = "(";
  for (std::size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks dtype T, C-contiguity and, when ndim >= 0, the number of dimensions.
template <class T>
const T* data(const Array& a, const char* name, int ndim = -1) {
  if (!has_dtype<T>(a)) fail(name, std::string("expected dtype ") + type_name<T>() + ", got " + dtype_name(a.dtype()));
  if (ndim >= 0 && a.ndim() != static_cast<std::size_t>(ndim)) {
    fail(name, "expected " + std::to_string(ndim) + " dimensions, got shape " + shape_str(a));
  }
  check_contiguous(a, name);
  return static_cast<const T*>(a.data());
}

// A per-channel parameter vector: dtype T, shape (n,).
template <class T>
const T* vec(const Array& a, const char* name, std::size_t n) {
  const T* p = data<T>(a, name, 1);
  if (a.shape(0) != n) fail(name, "expected shape (" + std::to_string(n) + ",), got " + shape_str(a));
  return p;
}

inline void check_same_shape(const Array& a, const Array& b, const char* name_b) {
  bool same = a.ndim() == b.ndim();
  for (std::size_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == b.shape(i);
  if (!same) fail(name_b, "shape " + shape_str(b) + " differs from " + shape_str(a));
}

inline std::size_t last_dim(const Array& a, const char* name) {
  if (a.ndim() < 1) fail(name, "must have at least one dimension (channels last)");
  return a.shape(a.ndim() - 1);
}

inline Shape shape_of(const Array& a) {
  Shape s(a.ndim());
  for (std::size_t i = 0; i < a.ndim(); ++i) s[i] = a.shape(i);
  return s;
}

// A new C-contiguous numpy array owning its memory.
template <class T>
nb::ndarray<nb::numpy, T> new_array(const Shape& shape, T** out) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  T* p = new T[n == 0 ? 1 : n];
  nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<T*>(q); });
  *out = p;
  return nb::ndarray<nb::numpy, T>(p, shape.size(), shape.data(), owner);
}

// isa=None -> the active ISA (honours BNNFLOW_ISA); otherwise a name this CPU supports.
inline Isa resolve_isa(const std::optional<std::string>& isa) {
  if (!isa) return active_isa();
  const Isa parsed = parse_isa(*isa);
  if (!isa_supported(parsed)) fail("isa", "'" + *isa + "' is not supported by this CPU");
  return parsed;
}

// One pool per thread count, created on first use and kept for the interpreter's lifetime.
inline ThreadPool* pool_for(int threads) {
  if (threads < 1 || threads > 256) fail("threads", "must be in [1, 256], got " + std::to_string(threads));
  if (threads == 1) return nullptr;
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lock(mutex);
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return p.get();
}

inline void check_range(std::int64_t v, std::int64_t lo, std::int64_t hi, const char* name) {
  if (v < lo || v > hi) {
    fail(name, "value " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
}

// Fixed-point shift vector: every s[c] in [0, max_shift].
inline const std::int32_t* shifts(const Array& a, const char* name, std::size_t n, int max_shift) {
  const std::int32_t* s = vec<std::int32_t>(a, name, n);
  for (std::size_t c = 0; c < n; ++c) check_range(s[c], 0, max_shift, name);
  return s;
}

// Window geometry: kernel >= 1, stride >= 1, padding >= 0 and, for pools (whose padded taps
// are ignored, so every window must hold one real tap), padding <= kernel / 2 as in PyTorch;
// the padded input must be at least one window large.
inline void check_window(std::size_t H, std::size_t W, int kh, int kw, int stride, int pad,
                         bool is_pool) {
  if (kh < 1 || kw < 1) fail(is_pool ? "kernel" : "w", "kernel size must be >= 1");
  if (stride < 1 || stride > 64) fail("stride", "must be in [1, 64], got " + std::to_string(stride));
  const int max_pad = is_pool ? (kh < kw ? kh : kw) / 2 : 1024;
  if (pad < 0 || pad > max_pad) {
    fail("padding", "must be in [0, " + std::to_string(max_pad) + "], got " + std::to_string(pad));
  }
  if (H + 2 * static_cast<std::size_t>(pad) < static_cast<std::size_t>(kh) ||
      W + 2 * static_cast<std::size_t>(pad) < static_cast<std::size_t>(kw)) {
    fail("x", "spatial size smaller than the kernel (after padding)");
  }
}

}  // namespace bnnflow::bind::glue
