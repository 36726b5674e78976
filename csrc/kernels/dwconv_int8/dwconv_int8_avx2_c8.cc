// AVX2 dwconv2d_int8: 8 output channels per ymm, tap pairs through vpmaddwd (see
// dwconv_int8_plan.h). Per tap pair and 8 channels: two vpbroadcastq loads, vpblendd (tap 2p in
// the low, tap 2p+1 in the high qword of each 128-bit half), [vpxor 0x80 for int8 input],
// vpshufb (channel-multiplier expansion, interleave, zero-extension to int16), vpmaddwd, vpaddd.
// Threads split over batch x output rows.
#include <immintrin.h>

#include "kernels/dwconv_int8/dwconv_int8_plan.h"

namespace bnnflow::glue::avx2 {
namespace {

template <bool kSigned>
void dw_pixel(const dwc::Plan& p, const std::uint8_t* const* tp, std::int32_t* y) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (std::size_t b = 0; b < p.nblk; ++b) {
    const std::size_t c0 = p.c0.data()[b], nb = p.nbytes.data()[b];
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.masks.data() + b * 32));
    __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.bias2.data() + b * 8));
    for (std::size_t q = 0; q < p.npairs; ++q) {
      __m256i v;
      if (nb == 8) {
        v = _mm256_blend_epi32(_mm256_set1_epi64x(static_cast<long long>(dwc::load8(tp[2 * q] + c0, 8))),
                               _mm256_set1_epi64x(static_cast<long long>(dwc::load8(tp[2 * q + 1] + c0, 8))),
                               0xCC);
      } else {
        v = _mm256_blend_epi32(_mm256_set1_epi64x(static_cast<long long>(dwc::load8(tp[2 * q] + c0, nb))),
                               _mm256_set1_epi64x(static_cast<long long>(dwc::load8(tp[2 * q + 1] + c0, nb))),
                               0xCC);
      }
      if constexpr (kSigned) v = _mm256_xor_si256(v, flip);
      v = _mm256_shuffle_epi8(v, mask);
      const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.wpk.data() + p.weight_index(b, q)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, w));
    }
    const std::size_t left = p.Co - 8 * b;
    if (left >= 8) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 8 * b), acc);
    } else {
      const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), lanes);
      _mm256_maskstore_epi32(y + 8 * b, keep, acc);
    }
  }
}

template <bool kSigned>
void dw_rows(const DwConv2dInt8Args& a, const dwc::Plan& p, std::size_t u0, std::size_t u1) {
  dwc::TapWalker walk(a, p);
  for (std::size_t u = u0; u < u1; ++u) {
    const std::size_t n = u / p.Ho, oh = u % p.Ho;
    for (std::size_t ow = 0; ow < p.Wo; ++ow) {
      dw_pixel<kSigned>(p, walk.at(n, oh, ow), a.y + (u * p.Wo + ow) * p.Co);
    }
  }
}

}  // namespace

void dwconv2d_int8(const DwConv2dInt8Args& a, ThreadPool* pool) {
  const dwc::Plan p(a);
  parallel_ranges(pool, a.N * p.Ho, [&](std::size_t u0, std::size_t u1) {
    if (a.x_unsigned) {
      dw_rows<false>(a, p, u0, u1);
    } else {
      dw_rows<true>(a, p, u0, u1);
    }
  });
}

}  // namespace bnnflow::glue::avx2
