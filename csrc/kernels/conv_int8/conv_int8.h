// conv2d_int8 (docs/numerics.md §5): NHWC uint8 or int8 input with a per-input-channel int32
// zero point, int8 weights [Cout, KH, KW, Cin], int32 bias, int32 output:
//   acc[o] = bias[o] + sum_{taps inside} sum_c w[o,kh,kw,c] * (x[c] - zp[c])
// Padded taps contribute 0. Accumulation is int32 and wraps (two's complement) identically
// on every ISA. Precondition: zp[c] is a value of the input dtype ([0,255] for uint8,
// [-128,127] for int8), so the padded pixel (= zp) is representable in the input dtype.
#pragma once
#include "kernels/glue_common/glue.h"

namespace bnnflow::glue {

struct Conv2dInt8Args {
  const void* x;         // [N, H, W, Cin] uint8 (x_unsigned) or int8
  bool x_unsigned;
  const std::int8_t* w;  // [Cout, KH, KW, Cin]
  const std::int32_t* bias;  // [Cout]
  const std::int32_t* zp;    // [Cin]
  std::int32_t* y;       // [N, Ho, Wo, Cout]
  std::size_t N, H, W, Cin, Cout;
  int KH, KW, stride, pad;
};

// conv2d_int8 = conv2d_int8_pack once into conv2d_int8_packed_bytes(a) bytes of zeroed, 64-byte
// aligned memory, then conv2d_int8_packed. Packing reads only w, bias, zp, x_unsigned, Cin, Cout,
// KH, KW (the ISA's weight layout; AVX-512 folds sum w*(zp + 128*signed) into the bias), so a
// caller that keeps the packed bytes (prepare_conv2d_int8_weights) runs conv2d_int8_packed on
// every call with the same w, bias, zp and input dtype. The scalar kernel packs nothing.
#define BNNFLOW_GLUE_CONV_INT8_KERNELS                                  \
  void conv2d_int8(const Conv2dInt8Args& a, ThreadPool* pool);          \
  std::size_t conv2d_int8_packed_bytes(const Conv2dInt8Args& a);        \
  void conv2d_int8_pack(const Conv2dInt8Args& a, void* packed);         \
  void conv2d_int8_packed(const Conv2dInt8Args& a, const void* packed, ThreadPool* pool);
BNNFLOW_GLUE_DECLARE_ISAS(BNNFLOW_GLUE_CONV_INT8_KERNELS)

// x[i] as int32 whatever the input dtype.
static inline std::int32_t conv_input_at(const Conv2dInt8Args& a, std::size_t i) {
  return a.x_unsigned ? static_cast<std::int32_t>(static_cast<const std::uint8_t*>(a.x)[i])
                      : static_cast<std::int32_t>(static_cast<const std::int8_t*>(a.x)[i]);
}

}  // namespace bnnflow::glue
