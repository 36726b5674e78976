// requant32 parameters folded once per model (the engine's requant32 steps, the fused
// conv2d_int8 + requant32 pair and the band chains' requant32 links build one per op at load):
// the PreparedRequant32 of requant.h that the requant32 kernels of every ISA run without the
// 64-bit arithmetic of the plain formula where that is exact.
//
// Notation, per channel: C = B + r (r = 2^(s-1) for s > 0, else 0), T(x) = M*x + C and
// f(x) = floor(T(x) / 2^s), all exact integers; requant32(x) = sat8(f(x)) (numerics §3).
// f is monotone in x (non-decreasing for M > 0, non-increasing for M < 0, constant for M = 0).
//
// kInt32 (the int32-only form, y = sat8(wrap32(M*clamp(x, lo, hi) + wrap32(C)) >> s)):
//   lo, hi. For M > 0, lo = the largest int32 x with f(x) <= -128 (INT32_MIN if none) and
//   hi = the smallest int32 x with f(x) >= 127 (INT32_MAX if none); for M < 0 the same with
//   the two sides swapped (lo: largest x with f(x) >= 127, hi: smallest x with f(x) <= -128).
//   Found by bisection on the exact 128-bit f. Claim 1: sat8(f(clamp(x, lo, hi))) = sat8(f(x))
//   for every int32 x. Proof: for x < lo, x and lo both lie in the prefix of int32 on which f
//   saturates to one side (monotonicity), so sat8(f(x)) = sat8(f(lo)); likewise x > hi and hi;
//   when lo or hi is the fallback end of int32 no x lies beyond it.
//   Exactness. Claim 2: if s <= 31 and T(lo) and T(hi) both lie in [-2^31, 2^31), then for
//   every x' in [lo, hi] wrap32(M*x' + wrap32(C)) = T(x'), so its arithmetic shift by s is
//   f(x'). Proof: T is affine, so T([lo, hi]) lies between T(lo) and T(hi), inside int32;
//   wrapping multiply and add compute T(x') mod 2^32, and the one int32 value congruent to
//   T(x') mod 2^32 is T(x') itself. The shifted value is an int32, and the final narrowing
//   saturates it (sat8), so no condition on the slope is needed.
//   Which channels qualify: T(lo..hi) spans the unsaturated outputs, about 255 * 2^s plus one
//   step |M| at either end, so roughly s <= 23 (the exact test is Claim 2's, per channel).
//   Converted models choose the largest s that keeps M within int32 (s = 32..43 in the
//   Bi-Real-Net-18 and QuickNet int8 files), which no int32 form can express exactly: an
//   output that spans 2^(s-23) .. 2^(s-20) input values per step needs the product M*x at
//   more than 32 bits. Those take kHigh32.
// kHigh32 (y = sat8((T(x) >> 32) >> (s - 32)), T(x) = M*x + C in wrapping int64): for s >= 32.
//   Claim 3: if s >= 32 and T(INT32_MIN), T(INT32_MAX) and M*INT32_MIN + B, M*INT32_MAX + B
//   lie in int64 (which the loader's overflow rule guarantees, numerics §3), then the int64
//   lanes compute T(x) exactly for every int32 x (T affine again), T >> 32 fits int32, and
//   (T >> 32) >> (s - 32) = T >> s = f(x) (floor division composes). No clamp and no 64-bit
//   shift or saturation: the high dword of a vpmuldq / vmlal product plus C, a 32-bit shift
//   by s - 32 <= 30 and the saturating packs.
// Constant channels (sat8(f(INT32_MIN)) = sat8(f(INT32_MAX)), e.g. M = 0) become
// M = 0, lo = hi = 0 and a C giving that constant (kInt32: wrap32(C) = y, s = 0; kHigh32:
// C = y * 2^32, s - 32 = 0) and qualify for either form.
// One form per tensor: kInt32 if every channel qualifies, else kHigh32 if every channel does,
// else kInt64 (the unprepared formula; also for parameters whose int64 intermediate could
// overflow, which the loader rejects anyway).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/requant/requant.h"

namespace bnnflow::glue {

class Requant32Plan {
 public:
  // M [channels] int32, B [channels] int64, s [channels] in 0..62.
  Requant32Plan(const std::int32_t* M, const std::int64_t* B, const std::int32_t* s,
                std::size_t channels);
  Requant32Plan(const Requant32Plan&) = delete;
  Requant32Plan& operator=(const Requant32Plan&) = delete;

  const PreparedRequant32& view() const { return view_; }
  Rq32Mode mode() const { return view_.mode; }

 private:
  std::vector<std::int32_t> lo_, hi_, m_, m_next_, b32_, sh_;
  std::vector<std::int64_t> c64_, c_even_, c_odd_;
  PreparedRequant32 view_{};
};

// "int32", "high32" or "int64".
const char* rq32_mode_name(Rq32Mode mode);

}  // namespace bnnflow::glue
