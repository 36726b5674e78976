// Argument checks shared by the binary-kernel bindings: dtype / rank / shape / contiguity of
// numpy arrays (raising ValueError that names the argument), ISA and thread-count parsing, a
// cached thread pool per thread count, and fresh numpy outputs.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

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
using AnyArray = nb::ndarray<nb::ro>;

template <typename T>
inline const char* dtype_name() {
  if constexpr (std::is_same_v<T, int8_t>) return "int8";
  if constexpr (std::is_same_v<T, uint8_t>) return "uint8";
  if constexpr (std::is_same_v<T, int16_t>) return "int16";
  if constexpr (std::is_same_v<T, int32_t>) return "int32";
  if constexpr (std::is_same_v<T, uint32_t>) return "uint32";
  if constexpr (std::is_same_v<T, float>) return "float32";
  return "?";
}

inline std::string describe_dtype(const AnyArray& a) {
  const nb::dlpack::dtype d = a.dtype();
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

inline std::string describe_shape(const AnyArray& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline bool is_c_contiguous(const AnyArray& a) {
  int64_t expected = 1;
  for (size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expected) return false;
    expected *= static_cast<int64_t>(a.shape(i));
  }
  return true;
}

// Checks dtype T, rank `ndim` (-1: any, >= 1) and C-contiguity; returns the data pointer.
template <typename T>
const T* checked(const AnyArray& a, const char* name, int ndim) {
  if (a.dtype() != nb::dtype<T>()) {
    throw std::invalid_argument(std::string(name) + " must have dtype " + dtype_name<T>() +
                                ", got " + describe_dtype(a));
  }
  if (ndim >= 0 && a.ndim() != static_cast<size_t>(ndim)) {
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-D, got shape " + describe_shape(a));
  }
  if (ndim < 0 && a.ndim() < 1) {
    throw std::invalid_argument(std::string(name) + " must have at least one dimension");
  }
  if (!is_c_contiguous(a)) {
    throw std::invalid_argument(std::string(name) +
                                " must be C-contiguous (use numpy.ascontiguousarray)");
  }
  return static_cast<const T*>(a.data());
}

inline void require_dim(const AnyArray& a, const char* name, size_t axis, int64_t expected,
                        const std::string& why) {
  if (static_cast<int64_t>(a.shape(axis)) != expected) {
    throw std::invalid_argument(std::string(name) + " has shape " + describe_shape(a) +
                                ": axis " + std::to_string(axis) + " must be " +
                                std::to_string(expected) + " (" + why + ")");
  }
}

inline void require_positive(int64_t v, const char* name) {
  if (v < 1) throw std::invalid_argument(std::string(name) + " must be >= 1, got " +
                                         std::to_string(v));
}

// None: the active ISA (BNNFLOW_ISA or the best supported); otherwise a supported ISA name.
inline Isa resolve_isa(const std::optional<std::string>& isa) {
  if (!isa) return active_isa();
  Isa parsed;
  try {
    parsed = parse_isa(*isa);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("isa: ") + e.what());
  }
  if (!isa_supported(parsed)) {
    throw std::invalid_argument("isa='" + *isa + "' is not supported by this CPU");
  }
  return parsed;
}

// One pool per thread count, created on first use and kept for the process.
inline ThreadPool& pool_for(int threads) {
  require_positive(threads, "threads");
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lock(mutex);
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
}

// A new C-contiguous numpy array owning its (uninitialised) buffer.
template <typename T>
nb::ndarray<nb::numpy, T> new_array(const std::vector<size_t>& shape, T** data) {
  size_t count = 1;
  for (size_t s : shape) count *= s;
  T* buf = new T[count > 0 ? count : 1];
  nb::capsule owner(buf, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  *data = buf;
  return nb::ndarray<nb::numpy, T>(buf, shape.size(), shape.data(), owner);
}

}  // namespace bnnflow::bind
