// Shared loop of the pack kernels: every ISA supplies how to pack one full 32-channel word;
// partial words (the last of a group when Cg % 32 != 0) take the scalar path. Everything is
// TU-local (anonymous namespace): the scalar and the ISA-compiled pack files each get their own
// copy, never a shared weak symbol (docs/development.md, "Per-ISA objects").
#pragma once
#include <cstddef>
#include <cstdint>

namespace bnnflow::pack_detail {
namespace {

template <typename T, typename Th>
inline uint32_t pack_word_scalar(const T* x, const Th* t, int n) {
  uint32_t bits = 0;
  for (int c = 0; c < n; ++c) bits |= static_cast<uint32_t>(x[c] < t[c]) << c;
  return bits;
}

// full(x, c0) packs channels c0..c0+31 of pixel row x (thresholds indexed by c0 too).
template <typename T, typename Th, typename Full>
inline void pack_rows(const T* x, const Th* t, size_t p0, size_t p1, int channels, int groups,
                      uint32_t* out, Full full) {
  const int cg = channels / groups, wg = (cg + 31) / 32, words = groups * wg;
  for (size_t p = p0; p < p1; ++p) {
    const T* xr = x + p * channels;
    uint32_t* o = out + p * words;
    for (int g = 0; g < groups; ++g) {
      for (int j = 0; j < wg; ++j) {
        const int c0 = g * cg + 32 * j, n = cg - 32 * j < 32 ? cg - 32 * j : 32;
        o[g * wg + j] = n == 32 ? full(xr, c0) : pack_word_scalar(xr + c0, t + c0, n);
      }
    }
  }
}

// int8 compare against an int32 threshold with 8-bit SIMD compares: x < t  <=>
// (clamp(t, −128, 127) > x) or t > 127.
inline void int8_thresholds(const int32_t* t, int channels, int8_t* tc, uint8_t* force) {
  for (int c = 0; c < channels; ++c) {
    tc[c] = static_cast<int8_t>(t[c] < -128 ? -128 : (t[c] > 127 ? 127 : t[c]));
    force[c] = t[c] > 127 ? 0xff : 0;
  }
}

}  // namespace
}  // namespace bnnflow::pack_detail
