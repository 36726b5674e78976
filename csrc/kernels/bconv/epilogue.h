// The fused epilogues of bconv2d / bdense (docs/numerics.md §4): clamp, then int32, float32,
// int8 (clip + requant) or packed bits. Shared by every ISA's driver.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/bconv/bconv.h"

namespace bnnflow {

inline constexpr int kMaxPixels = 16;   // largest micro-kernel pixel tile
inline constexpr int kMaxBlock = 128;   // largest micro-kernel channel block

// saturate(rshift_round(M·clamp(d, −128, 127) + B, s)), 64-bit intermediate.
inline int8_t requant_int8(int32_t d, int16_t m, int32_t b, int32_t s) {
  const int64_t q = std::min(std::max(d, -128), 127);
  const int64_t v = static_cast<int64_t>(m) * q + b;
  const int64_t r = s > 0 ? (int64_t{1} << (s - 1)) : 0;
  const int64_t y = (v + r) >> s;
  return static_cast<int8_t>(std::min<int64_t>(std::max<int64_t>(y, -128), 127));
}

class EpilogueWriter {
 public:
  EpilogueWriter(const Epilogue& ep, int cout, void* out)
      : ep_(ep), cout_(cout), out_(out), row_elems_(epilogue_row_elems(ep, cout)) {
    if (ep.kind == EpilogueKind::kPacked) {
      og_ch_ = cout / ep.out_groups;
      og_words_ = (og_ch_ + 31) / 32;
    }
  }

  // d[0..nc) are the values of channels o0..o0+nc of output pixel `pix`.
  void write(const int32_t* d, size_t pix, int o0, int nc) const {
    const int32_t lo = ep_.lo, hi = ep_.hi;
    switch (ep_.kind) {
      case EpilogueKind::kInt32: {
        int32_t* y = static_cast<int32_t*>(out_) + pix * row_elems_ + o0;
        for (int c = 0; c < nc; ++c) y[c] = std::min(std::max(d[c], lo), hi);
        break;
      }
      case EpilogueKind::kFloat: {
        float* y = static_cast<float*>(out_) + pix * row_elems_ + o0;
        const float* a = ep_.scale + o0;
        const float* b = ep_.bias + o0;
        for (int c = 0; c < nc; ++c) {
          y[c] = static_cast<float>(std::min(std::max(d[c], lo), hi)) * a[c] + b[c];
        }
        break;
      }
      case EpilogueKind::kInt8: {
        int8_t* y = static_cast<int8_t*>(out_) + pix * row_elems_ + o0;
        for (int c = 0; c < nc; ++c) {
          const int o = o0 + c;
          y[c] = requant_int8(std::min(std::max(d[c], lo), hi), ep_.mult[o], ep_.offset[o],
                              ep_.shift[o]);
        }
        break;
      }
      case EpilogueKind::kPacked: {
        uint32_t* y = static_cast<uint32_t*>(out_) + pix * row_elems_;
        for (int c = 0; c < nc; ++c) {
          const int o = o0 + c;
          const int32_t v = std::min(std::max(d[c], lo), hi);
          if (v < ep_.threshold[o]) {
            const int g = o / og_ch_, oc = o % og_ch_;
            y[g * og_words_ + oc / 32] |= 1u << (oc % 32);
          }
        }
        break;
      }
    }
  }

 private:
  Epilogue ep_;
  int cout_;
  void* out_;
  size_t row_elems_;
  int og_ch_ = 1, og_words_ = 1;
};

}  // namespace bnnflow
