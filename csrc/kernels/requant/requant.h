// Per-channel fixed-point requantization (docs/numerics.md §3):
//   requant   : y = saturate(rshift_round(M[c]*q + B[c], s[c]))  int8 -> int8, int32 math
//   requant32 : y = saturate(rshift_round(M[c]*x + B[c], s[c]))  int32 -> int8, int64 math
// Data is [rows, C] (any NHWC tensor flattened), parameters are per channel (last axis).
//
// Prepared requant32 (requant32_plan.h folds (M, B, s) once per model into this form; the
// proofs are there): a requant32 call whose args carry `prep` computes, per channel c,
//   kInt32  : y = sat8(wrap32(m[c]*clamp(x, lo[c], hi[c]) + b32[c]) >> sh[c])   int32 only
//   kHigh32 : y = sat8(hi32(m[c]*x + c64[c]) >> sh[c])                         sh = s - 32
//   kInt64  : the unprepared int64 formula on M, B, s
// with hi32(v) = v >> 32 of the (exact) int64 v. Both give the requant32 result bit for bit.
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct RequantArgs {
  const std::int8_t* x;
  std::int8_t* y;
  std::size_t rows, channels;
  const std::int16_t* M;
  const std::int32_t* B;
  const std::int32_t* s;  // 0..30
};

// How a prepared requant32 tensor is computed (one form for all its channels).
enum class Rq32Mode : std::uint8_t { kInt32, kHigh32, kInt64 };

// The prepared parameters of one requant32 (a view; Requant32Plan owns the memory). Every
// per-channel array has channels + 16 entries (zero past the end), so a vector may read a
// group of 16 from any channel below `channels`.
struct PreparedRequant32 {
  Rq32Mode mode;
  std::size_t channels;
  const std::int32_t* lo;      // kInt32: clamp bounds of x
  const std::int32_t* hi;
  const std::int32_t* m;       // kInt32, kHigh32: the multiplier
  const std::int32_t* m_next;  // kHigh32: m_next[c] = m[c + 1] (the odd lanes' multipliers)
  const std::int32_t* b32;     // kInt32: wrap32(B + r)
  const std::int32_t* sh;      // kInt32: s; kHigh32: s - 32
  const std::int64_t* c64;     // kHigh32: B + r, channel order
  // kHigh32, per group of 16 channels g: c_even[8g + j] = c64[16g + 2j], c_odd[8g + j] =
  // c64[16g + 2j + 1] (the int64 lanes of vpmuldq products; also right for groups of 8).
  const std::int64_t* c_even;
  const std::int64_t* c_odd;
};

struct Requant32Args {
  const std::int32_t* x;
  std::int8_t* y;
  std::size_t rows, channels;
  const std::int32_t* M;
  const std::int64_t* B;
  const std::int32_t* s;  // 0..62
  // Optional prepared form of (M, B, s) (same channels): used unless its mode is kInt64.
  const PreparedRequant32* prep = nullptr;
};

// One element of a prepared requant32 (kInt32 / kHigh32), the scalar twin of the vector lanes.
static inline std::int8_t requant32_prepared_at(const PreparedRequant32& p, std::size_t c,
                                                std::int32_t x) {
  if (p.mode == Rq32Mode::kInt32) {
    const std::int32_t xc = x < p.lo[c] ? p.lo[c] : (x > p.hi[c] ? p.hi[c] : x);
    const std::uint32_t v = static_cast<std::uint32_t>(p.m[c]) * static_cast<std::uint32_t>(xc) +
                            static_cast<std::uint32_t>(p.b32[c]);
    return sat8(static_cast<std::int32_t>(v) >> p.sh[c]);
  }
  const std::uint64_t t = static_cast<std::uint64_t>(static_cast<std::int64_t>(p.m[c]) * x) +
                          static_cast<std::uint64_t>(p.c64[c]);
  return sat8(static_cast<std::int32_t>(static_cast<std::int64_t>(t) >> 32) >> p.sh[c]);
}

#define BNNFLOW_GLUE_REQUANT_KERNELS                      \
  void requant(const RequantArgs& a, ThreadPool* pool);   \
  void requant32(const Requant32Args& a, ThreadPool* pool);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_REQUANT_KERNELS)

using RequantFn = void (*)(const RequantArgs&, ThreadPool*);
using Requant32Fn = void (*)(const Requant32Args&, ThreadPool*);

}  // namespace bnnflow::glue
