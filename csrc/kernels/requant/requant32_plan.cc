// The fold of requant32_plan.h (ISA-neutral: built with the base flags, run once per model).
#include "kernels/requant/requant32_plan.h"

#include <limits>

namespace bnnflow::glue {
namespace {

using i128 = __int128;
constexpr std::int64_t kMin32 = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kMax32 = std::numeric_limits<std::int32_t>::max();
constexpr i128 kMin64 = std::numeric_limits<std::int64_t>::min();
constexpr i128 kMax64 = std::numeric_limits<std::int64_t>::max();

i128 floor_div_pow2(i128 v, int s) {  // floor(v / 2^s): >> on a signed __int128 is arithmetic
  return v >> s;
}

// One channel's exact quantities (the notation of requant32_plan.h).
struct Channel {
  std::int64_t M, B;
  int s;
  i128 C() const { return static_cast<i128>(B) + (s > 0 ? (i128{1} << (s - 1)) : 0); }
  i128 T(std::int64_t x) const { return static_cast<i128>(M) * x + C(); }
  i128 f(std::int64_t x) const { return floor_div_pow2(T(x), s); }
  std::int32_t y(std::int64_t x) const {
    const i128 v = f(x);
    return static_cast<std::int32_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
  }
  // The int64 intermediates of the reference (M*x + B, then + r) at both ends of int32.
  bool fits_int64() const {
    for (const std::int64_t x : {kMin32, kMax32}) {
      const i128 mb = static_cast<i128>(M) * x + B, t = T(x);
      if (mb < kMin64 || mb > kMax64 || t < kMin64 || t > kMax64) return false;
    }
    return true;
  }
};

// The largest x in int32 with pred(x), where pred holds on a prefix of int32; kMin32 if none.
template <class Pred>
std::int64_t last_of_prefix(const Pred& pred) {
  if (!pred(kMin32)) return kMin32;
  if (pred(kMax32)) return kMax32;
  std::int64_t a = kMin32, b = kMax32;  // pred(a), !pred(b)
  while (b - a > 1) {
    const std::int64_t mid = a + (b - a) / 2;
    (pred(mid) ? a : b) = mid;
  }
  return a;
}

// The smallest x in int32 with pred(x), where pred holds on a suffix of int32; kMax32 if none.
template <class Pred>
std::int64_t first_of_suffix(const Pred& pred) {
  const std::int64_t last_not = last_of_prefix([&](std::int64_t x) { return !pred(x); });
  if (last_not == kMin32 && pred(kMin32)) return kMin32;
  return last_not == kMax32 ? kMax32 : last_not + 1;
}

// Claim 1's bounds (M != 0).
std::pair<std::int64_t, std::int64_t> clamp_bounds(const Channel& ch) {
  const auto low = [&](std::int64_t x) { return ch.f(x) <= -128; };
  const auto high = [&](std::int64_t x) { return ch.f(x) >= 127; };
  if (ch.M > 0) return {last_of_prefix(low), first_of_suffix(high)};
  return {last_of_prefix(high), first_of_suffix(low)};
}

bool in_int32(i128 v) { return v >= kMin32 && v <= kMax32; }

}  // namespace

Requant32Plan::Requant32Plan(const std::int32_t* M, const std::int64_t* B, const std::int32_t* s,
                             std::size_t channels) {
  const std::size_t n = channels + 16, groups = (channels + 15) / 16;
  lo_.assign(n, 0), hi_.assign(n, 0), m_.assign(n, 0), m_next_.assign(n, 0), b32_.assign(n, 0);
  sh_.assign(n, 0), c64_.assign(n, 0), c_even_.assign(groups * 8 + 8, 0);
  c_odd_.assign(groups * 8 + 8, 0);
  bool all_int32 = true, all_high32 = true;
  for (std::size_t c = 0; c < channels; ++c) {
    const Channel ch{M[c], B[c], s[c]};
    if (!ch.fits_int64()) {
      all_int32 = all_high32 = false;
      break;
    }
    const std::int32_t y_min = ch.y(kMin32);
    if (ch.M == 0 || y_min == ch.y(kMax32)) {  // constant channel
      b32_[c] = y_min;
      c64_[c] = static_cast<std::int64_t>(y_min) * (std::int64_t{1} << 32);
      continue;
    }
    const auto [lo, hi] = clamp_bounds(ch);
    lo_[c] = static_cast<std::int32_t>(lo);
    hi_[c] = static_cast<std::int32_t>(hi);
    m_[c] = M[c];
    const i128 C = ch.C();
    b32_[c] = static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(C)));
    all_int32 = all_int32 && ch.s <= 31 && in_int32(ch.T(lo)) && in_int32(ch.T(hi));
    all_high32 = all_high32 && ch.s >= 32;
    c64_[c] = static_cast<std::int64_t>(C);  // fits: T(0) = C, checked by fits_int64
    sh_[c] = ch.s;
  }
  view_.channels = channels;
  view_.mode = all_int32 ? Rq32Mode::kInt32 : all_high32 ? Rq32Mode::kHigh32 : Rq32Mode::kInt64;
  for (std::size_t c = 0; c < channels; ++c) {
    const bool constant = m_[c] == 0;
    if (view_.mode == Rq32Mode::kHigh32) sh_[c] = constant ? 0 : sh_[c] - 32;
    if (view_.mode == Rq32Mode::kInt32 && constant) sh_[c] = 0;
    m_next_[c] = m_[c + 1];
    const std::size_t g = c / 16, j = c % 16;
    (j % 2 == 0 ? c_even_ : c_odd_)[g * 8 + j / 2] = c64_[c];
  }
  view_.lo = lo_.data();
  view_.hi = hi_.data();
  view_.m = m_.data();
  view_.m_next = m_next_.data();
  view_.b32 = b32_.data();
  view_.sh = sh_.data();
  view_.c64 = c64_.data();
  view_.c_even = c_even_.data();
  view_.c_odd = c_odd_.data();
}

const char* rq32_mode_name(Rq32Mode mode) {
  switch (mode) {
    case Rq32Mode::kInt32: return "int32";
    case Rq32Mode::kHigh32: return "high32";
    case Rq32Mode::kInt64: return "int64";
  }
  return "?";
}

}  // namespace bnnflow::glue
