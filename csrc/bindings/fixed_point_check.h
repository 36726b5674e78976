// The fixed-point overflow rule (numerics §3) of an op's manifest entry, on a per-op binding's
// raw per-channel arrays: which roles, formulas and accumulator come from
// engine/op_manifest.h, the arithmetic from engine::fixed_point_range (the validator's own).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/ndarray_check.h"
#include "engine/validate.h"

namespace bnnflow::bind {

// `value(role, c)`: param `role` at channel c. Fails on the first channel (then branch) whose
// intermediate leaves the accumulator: "<bias role>: channel c: <formula> + rounding overflows
// int<bits>".
template <class Value>
void check_fixed_point(engine::OpKind kind, std::size_t channels, Value value) {
  const engine::manifest::FixedPoint& rule =
      engine::manifest::ops()[static_cast<std::size_t>(kind)].fixed_point;
  std::vector<std::int64_t> mults;
  for (std::size_t c = 0; c < channels; ++c) {
    for (const engine::manifest::Branch& b : rule.branches) {
      mults.clear();
      for (const std::string& m : b.mults) mults.push_back(value(m, c));
      if (engine::fixed_point_range(rule, mults.data(), mults.size(), value(b.bias, c),
                                    value("s", c))
              .overflows) {
        fail(b.bias, "channel " + std::to_string(c) + ": " + b.formula +
                         " + rounding overflows int" + std::to_string(rule.bits));
      }
    }
  }
}

}  // namespace bnnflow::bind
