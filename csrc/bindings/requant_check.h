// Range check of requant32 parameters shared by the requant32 and fused conv2d_int8 bindings.
#pragma once
#include <cstdint>
#include <string>

#include "bindings/fixed_point_check.h"
#include "bindings/ndarray_check.h"

namespace bnnflow::bind {

// M*x + B + r within int64 for every int32 x (the manifest's rule for requant32).
inline void check_requant32_range(const std::int32_t* M, const std::int64_t* B,
                                  const std::int32_t* s, std::size_t C) {
  check_fixed_point(engine::OpKind::kRequant32, C,
                    [&](const std::string& role, std::size_t c) -> std::int64_t {
                      return role == "M" ? M[c] : role == "B" ? B[c] : s[c];
                    });
}

}  // namespace bnnflow::bind
