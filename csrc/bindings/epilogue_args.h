// Parses and validates the epilogue keyword arguments shared by bconv2d and bdense
// (docs/numerics.md §4), and allocates the matching output array.
#pragma once
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings/ndarray_check.h"
#include "bindings/out_arg.h"
#include "kernels/bconv/bconv.h"

namespace bnnflow::bind {

struct EpilogueArgs {
  std::string kind = "int32";
  std::optional<std::pair<int32_t, int32_t>> clamp;
  std::optional<AnyArray> scale, bias, multiplier, offset, shift, threshold;
  int out_groups = 1;
};

inline const void* per_channel(const std::optional<AnyArray>& a, const char* name,
                               const std::string& kind, int cout, nb::dlpack::dtype want,
                               const char* want_name) {
  if (!a) {
    throw std::invalid_argument("epilogue '" + kind + "' needs " + name);
  }
  if (a->dtype() != want) {
    fail(name, std::string("expected dtype ") + want_name + ", got " + dtype_name(a->dtype()));
  }
  if (a->ndim() != 1 || static_cast<int64_t>(a->shape(0)) != cout) {
    fail(name, "expected shape (" + std::to_string(cout) +
                   ",) (one value per output channel), got " + shape_str(*a));
  }
  check_contiguous(*a, name);
  return a->data();
}

inline void unused(const std::optional<AnyArray>& a, const char* name, const std::string& kind,
                   const char* used_by) {
  if (a) {
    throw std::invalid_argument(std::string(name) + " is only used by epilogue '" + used_by +
                                "', not '" + kind + "'");
  }
}

inline Epilogue parse_epilogue(const EpilogueArgs& a, int cout) {
  Epilogue ep;
  if (a.clamp) {
    if (a.clamp->first > a.clamp->second) {
      throw std::invalid_argument("clamp=(lo, hi) needs lo <= hi");
    }
    ep.lo = a.clamp->first;
    ep.hi = a.clamp->second;
  }
  const std::string& k = a.kind;
  if (k != "int32" && k != "float" && k != "int8" && k != "packed") {
    throw std::invalid_argument("epilogue must be one of 'int32', 'float', 'int8', 'packed', "
                                "got '" + k + "'");
  }
  if (k != "float") {
    unused(a.scale, "scale", k, "float");
    unused(a.bias, "bias", k, "float");
  }
  if (k != "int8") {
    unused(a.multiplier, "multiplier", k, "int8");
    unused(a.offset, "offset", k, "int8");
    unused(a.shift, "shift", k, "int8");
  }
  if (k != "packed") {
    unused(a.threshold, "threshold", k, "packed");
    if (a.out_groups != 1) {
      throw std::invalid_argument("out_groups is only used by epilogue 'packed'");
    }
  }
  if (k == "int32") {
    ep.kind = EpilogueKind::kInt32;
  } else if (k == "float") {
    ep.kind = EpilogueKind::kFloat;
    ep.scale = static_cast<const float*>(
        per_channel(a.scale, "scale", k, cout, nb::dtype<float>(), "float32"));
    ep.bias = static_cast<const float*>(
        per_channel(a.bias, "bias", k, cout, nb::dtype<float>(), "float32"));
  } else if (k == "int8") {
    ep.kind = EpilogueKind::kInt8;
    ep.mult = static_cast<const int16_t*>(
        per_channel(a.multiplier, "multiplier", k, cout, nb::dtype<int16_t>(), "int16"));
    ep.offset = static_cast<const int32_t*>(
        per_channel(a.offset, "offset", k, cout, nb::dtype<int32_t>(), "int32"));
    ep.shift = static_cast<const int32_t*>(
        per_channel(a.shift, "shift", k, cout, nb::dtype<int32_t>(), "int32"));
    for (int c = 0; c < cout; ++c) {
      if (ep.shift[c] < 0 || ep.shift[c] > 30) {
        throw std::invalid_argument("shift[" + std::to_string(c) + "] = " +
                                    std::to_string(ep.shift[c]) + " is outside [0, 30]");
      }
    }
  } else {
    ep.kind = EpilogueKind::kPacked;
    ep.threshold = static_cast<const int32_t*>(
        per_channel(a.threshold, "threshold", k, cout, nb::dtype<int32_t>(), "int32"));
    if (a.out_groups < 1 || cout % a.out_groups != 0) {
      throw std::invalid_argument("out_groups=" + std::to_string(a.out_groups) +
                                  " must be >= 1 and divide the " + std::to_string(cout) +
                                  " output channels");
    }
    ep.out_groups = a.out_groups;
  }
  return ep;
}

// The memory of x and of every epilogue array given, for out='s overlap check.
inline std::vector<Span> argument_spans(const AnyArray& x, const EpilogueArgs& a) {
  std::vector<Span> spans{span_of(x, "x")};
  const std::pair<const std::optional<AnyArray>*, const char*> named[] = {
      {&a.scale, "scale"},   {&a.bias, "bias"},   {&a.multiplier, "multiplier"},
      {&a.offset, "offset"}, {&a.shift, "shift"}, {&a.threshold, "threshold"}};
  for (const auto& [arr, name] : named) {
    if (*arr) spans.push_back(span_of(**arr, name));
  }
  return spans;
}

template <typename T>
nb::object typed_output(const OutArg& out, const std::vector<size_t>& shape, void** data,
                        const std::vector<Span>& ins) {
  T* p;
  Result<nb::ndarray<nb::numpy, T>> r = output<T>(out, shape, &p, ins);
  *data = p;
  return r.obj;
}

// Output array [lead..., epilogue_row_elems] of the epilogue's dtype: `out` (checked) or new.
inline nb::object new_output(const Epilogue& ep, std::vector<size_t> shape, int cout,
                             void** data, const OutArg& out, const std::vector<Span>& ins) {
  shape.push_back(static_cast<size_t>(epilogue_row_elems(ep, cout)));
  switch (ep.kind) {
    case EpilogueKind::kInt32: return typed_output<int32_t>(out, shape, data, ins);
    case EpilogueKind::kFloat: return typed_output<float>(out, shape, data, ins);
    case EpilogueKind::kInt8: return typed_output<int8_t>(out, shape, data, ins);
    case EpilogueKind::kPacked:
    default: return typed_output<uint32_t>(out, shape, data, ins);
  }
}

#define BNNFLOW_EPILOGUE_ARGS                                                        \
  nb::arg("epilogue") = "int32", nb::arg("clamp") = nb::none(),                      \
  nb::arg("scale") = nb::none(), nb::arg("bias") = nb::none(),                       \
  nb::arg("multiplier") = nb::none(), nb::arg("offset") = nb::none(),                \
  nb::arg("shift") = nb::none(), nb::arg("threshold") = nb::none(),                  \
  nb::arg("out_groups") = 1

#define BNNFLOW_EPILOGUE_DOC                                                              \
  "Epilogue (fused): d' = clamp(d, lo, hi) when clamp=(lo, hi) is given, then\n"          \
  "  'int32'  -> int32 d'\n"                                                              \
  "  'float'  -> float32 d' * scale[c] + bias[c]                  (scale, bias float32)\n" \
  "  'int8'   -> int8 saturate(rshift_round(multiplier[c]*clamp(d',-128,127) + offset[c],\n" \
  "              shift[c]))                 (multiplier int16, offset int32, shift int32)\n" \
  "  'packed' -> uint32 bits d' < threshold[c] (int32), packed in out_groups groups.\n"

}  // namespace bnnflow::bind
