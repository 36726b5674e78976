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

// requant32's (M, B, s) for `channels` channels: M int32, B int64, s int32 in [0, 62], read
// from the arrays and range-checked as above (one error naming the array and channel).
struct Requant32Params {
  const std::int32_t* M;
  const std::int64_t* B;
  const std::int32_t* s;
};

inline Requant32Params requant32_params(const Array& M, const Array& B, const Array& s,
                                        std::size_t channels) {
  const Requant32Params p{vec<std::int32_t>(M, "M", channels), vec<std::int64_t>(B, "B", channels),
                          shifts(s, "s", channels, 62)};
  check_requant32_range(p.M, p.B, p.s, channels);
  return p;
}

}  // namespace bnnflow::bind
