// The residual tail of a fused block (docs/runtime.md, "Fused steps"): a binary convolution's
// int8 output y, in place, for pixel rows [r0, r1) of `channels` channels each:
//
//   add : y = saturate(rshift_round(My[c]*y + Mr[c]*r + B[c], s[c]))   (add_int8, int32 math)
//   pwl : y = saturate(rshift_round(y >= t[c] ? Mp[c]*y + Bp[c] : Mn[c]*y + Bn[c], ps[c]))
//
// r is the residual (the add's other input); My / Mr are the add's Ma / Mb in the order the
// graph gives them (the sum is computed modulo 2^32 as add_int8 does, so the order of the
// terms does not change a bit). The pwl stage runs when `pwl` is set (pwl_int8 on the sum).
// Parameters come folded once per model (the glue kernels fold per call): multipliers as
// int32, br = B + 2^(s-1) (s > 0), bp / bn = Bp / Bn + 2^(ps-1). Bit-identical to add_int8
// then pwl_int8 on every ISA; one pass, no intermediate tensor.
#pragma once
#include "kernels/common/kernel_common.h"

namespace bnnflow::glue {

struct ResidualParams {
  std::size_t channels = 0;
  const std::int32_t* my = nullptr;  // multiplier of the convolution's output
  const std::int32_t* mr = nullptr;  // multiplier of the residual
  const std::int32_t* br = nullptr;  // B + 2^(s-1)
  const std::int32_t* s = nullptr;   // 0..30
  // Optional, for the vpmaddwd kernels (AVX2): (My & 0xffff) | (Mr << 16) per channel.
  const std::int32_t* pairs = nullptr;
  bool pwl = false;
  const std::int32_t* t = nullptr;
  const std::int32_t* mp = nullptr;
  const std::int32_t* bp = nullptr;  // Bp + 2^(ps-1)
  const std::int32_t* mn = nullptr;
  const std::int32_t* bn = nullptr;  // Bn + 2^(ps-1)
  const std::int32_t* ps = nullptr;  // 0..30
};

struct ResidualArgs {
  const ResidualParams* p;
  std::int8_t* y;        // [rows][channels], read and written
  const std::int8_t* r;  // [rows][channels]
  std::size_t r0, r1;    // the rows this call finishes
};

// One element: the scalar formula every ISA's lanes and channel tails follow.
static inline std::int8_t residual_one(const ResidualParams& p, std::size_t c, std::int32_t y,
                                       std::int32_t r) {
  const std::int32_t v = wadd32(wadd32(p.my[c] * y, p.mr[c] * r), p.br[c]);
  const std::int8_t q = sat8(v >> p.s[c]);
  if (!p.pwl) return q;
  const std::int32_t w = q >= p.t[c] ? wadd32(p.mp[c] * q, p.bp[c]) : wadd32(p.mn[c] * q, p.bn[c]);
  return sat8(w >> p.ps[c]);
}

#define BNNFLOW_GLUE_RESIDUAL_KERNELS void residual_rows(const ResidualArgs& a);
BNNFLOW_DECLARE_ISAS(BNNFLOW_GLUE_RESIDUAL_KERNELS)

}  // namespace bnnflow::glue
