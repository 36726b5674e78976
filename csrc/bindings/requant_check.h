// Range check of requant32 parameters shared by the requant32 and fused conv2d_int8 bindings.
#pragma once
#include <cstdint>
#include <string>

#include "bindings/ndarray_check.h"

namespace bnnflow::bind {

// |M*x| <= 2^62 for int32 x; M*x + B + r must stay in int64 for every int32 x.
inline void check_requant32_range(const std::int32_t* M, const std::int64_t* B, const std::int32_t* s,
                           std::size_t C) {
  for (std::size_t c = 0; c < C; ++c) {
    const __int128 r = s[c] > 0 ? (__int128{1} << (s[c] - 1)) : 0;
    for (__int128 x : {__int128{INT32_MIN}, __int128{INT32_MAX}}) {
      const __int128 v = __int128{M[c]} * x + B[c] + r;
      if (v < INT64_MIN || v > INT64_MAX) {
        fail("B", "channel " + std::to_string(c) + ": M*x + B + rounding overflows int64");
      }
    }
  }
}

}  // namespace bnnflow::bind
