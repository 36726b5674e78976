// Array validation and allocation helpers shared by every binding (binary and glue ops):
// dtype / rank / shape / C-contiguity checks (zero-size arrays are exempt from the contiguity
// check: nothing is read and numpy reports arbitrary strides for them), ISA and thread-count
// parsing, one cached thread pool per thread count, window-geometry bounds and fresh numpy
// outputs. Every check raises ValueError (std::invalid_argument) as "<argument>: <why>", e.g.
// "x: expected dtype int8, got float32".
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

namespace bnnflow::bind {

namespace nb = nanobind;
using Array = nb::ndarray<nb::ro, nb::device::cpu>;
using AnyArray = Array;
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
  else if constexpr (std::is_same_v<T, std::uint32_t>) return "uint32";
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
  if (ndim < 0 && a.ndim() < 1) fail(name, "must have at least one dimension");
  check_contiguous(a, name);
  return static_cast<const T*>(a.data());
}

// Axis `axis` of a must be `expected` (`why` says what the size means).
inline void require_dim(const Array& a, const char* name, std::size_t axis, std::int64_t expected,
                        const std::string& why) {
  if (static_cast<std::int64_t>(a.shape(axis)) != expected) {
    fail(name, "shape " + shape_str(a) + ": axis " + std::to_string(axis) + " must be " +
                   std::to_string(expected) + " (" + why + ")");
  }
}

inline void require_positive(std::int64_t v, const char* name) {
  if (v < 1) fail(name, "must be >= 1, got " + std::to_string(v));
}

// x of dtype uint8 or int8 (sets *is_unsigned), `ndim` dimensions, C-contiguous.
inline const void* uint8_or_int8(const Array& a, const char* name, int ndim, bool* is_unsigned) {
  *is_unsigned = has_dtype<std::uint8_t>(a);
  if (*is_unsigned) return data<std::uint8_t>(a, name, ndim);
  if (!has_dtype<std::int8_t>(a)) fail(name, "expected dtype uint8 or int8, got " + dtype_name(a.dtype()));
  return data<std::int8_t>(a, name, ndim);
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
  Isa parsed;
  try {
    parsed = parse_isa(*isa);
  } catch (const std::invalid_argument& e) {
    fail("isa", e.what());
  }
  if (!isa_supported(parsed)) fail("isa", "'" + *isa + "' is not supported by this CPU");
  return parsed;
}

// The most threads any kernel call (or interpreter) may use.
inline constexpr int MAX_THREADS = 256;

// One pool per thread count in [1, MAX_THREADS], created on first use and kept for the
// interpreter's lifetime (a 1-thread pool has no workers: work runs on the caller).
inline ThreadPool& pool_for(int threads) {
  if (threads < 1 || threads > MAX_THREADS) {
    fail("threads", "must be in [1, " + std::to_string(MAX_THREADS) + "], got " + std::to_string(threads));
  }
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lock(mutex);
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
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

// Packed binary activations: bits beyond channel cg in the last word of each group must be 0
// (pack_bits writes 0 there); the kernels count every bit, so a stray pad bit would change d.
// x holds `pixels` pixels of groups * wg words. One load per pixel and group.
inline void check_pad_bits(const std::uint32_t* x, std::size_t pixels, int groups, int wg,
                           std::int64_t cg, const char* name) {
  const int rem = static_cast<int>(cg % 32);
  if (rem == 0 || pixels == 0) return;
  const std::uint32_t mask = ~((1u << rem) - 1u);
  const std::size_t stride = static_cast<std::size_t>(groups) * wg;
  std::uint32_t stray = 0;
  for (std::size_t p = 0; p < pixels; ++p) {
    const std::uint32_t* last = x + p * stride + (wg - 1);
    for (int g = 0; g < groups; ++g) stray |= last[static_cast<std::size_t>(g) * wg];
  }
  if (stray & mask) {
    fail(name, "pad bits beyond channel Cg=" + std::to_string(cg) +
                   " must be 0 (pack with pack_bits)");
  }
}

// Binary conv / pool inputs need at least one pixel per image.
inline void require_spatial(const Array& x, const char* name) {
  if (x.shape(1) == 0 || x.shape(2) == 0) fail(name, "spatial size must be >= 1, got shape " + shape_str(x));
}

}  // namespace bnnflow::bind
