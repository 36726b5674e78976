// Test-only: lane-by-lane definitions of the AVX-512 intrinsics the glue kernels use that
// SIMDe 0.7.4 lacks, following Intel's pseudo-code. Included only under BNNFLOW_SIMDE_AVX512
// (the C++ tests' second, portable build of the AVX-512 sources); the real build uses the
// native intrinsics.
#pragma once
#include <cstdint>
#include <cstring>

namespace bnnflow_simde_compat {

template <class To, class From>
inline To bits(const From& f) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To t;
  std::memcpy(&t, &f, sizeof(To));
  return t;
}

template <class T, int N>
struct Lanes {
  T v[N];
};

using I32x16 = Lanes<std::int32_t, 16>;
using I64x8 = Lanes<std::int64_t, 8>;
using F32x16 = Lanes<float, 16>;

}  // namespace bnnflow_simde_compat

#define BNNFLOW_COMPAT_NS bnnflow_simde_compat

// SIMDe 0.7.6 and later typedef __mmask16 / __mmask64 themselves (SIMDE_ENABLE_NATIVE_ALIASES).
#if SIMDE_VERSION < HEDLEY_VERSION_ENCODE(0, 7, 6)
#ifndef __mmask16
typedef simde__mmask16 __mmask16;
#endif
#ifndef __mmask64
typedef simde__mmask64 __mmask64;
#endif
#endif

// SIMDe 0.7.4 (Debian's libsimde-dev) lacks all of the intrinsics below; later releases
// (PyPI's cmeel-simde 0.8.2) have some, as macros naming simde_* functions. The definitions here
// replace those (#undef): the same code on every SIMDe release, and SIMDe 0.8.2's portable
// _mm512_mask_storeu_epi32 writes zeros into the masked-off lanes, where the hardware leaves
// memory untouched (a tail store would overwrite the bytes after it).

#undef _mm512_cvtepi8_epi32
static inline __m512i _mm512_cvtepi8_epi32(__m128i a) {
  const auto in = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::Lanes<std::int8_t, 16>>(a);
  BNNFLOW_COMPAT_NS::I32x16 out;
  for (int i = 0; i < 16; ++i) out.v[i] = in.v[i];
  return BNNFLOW_COMPAT_NS::bits<__m512i>(out);
}

#undef _mm512_cvtepi16_epi32
static inline __m512i _mm512_cvtepi16_epi32(__m256i a) {
  const auto in = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::Lanes<std::int16_t, 16>>(a);
  BNNFLOW_COMPAT_NS::I32x16 out;
  for (int i = 0; i < 16; ++i) out.v[i] = in.v[i];
  return BNNFLOW_COMPAT_NS::bits<__m512i>(out);
}

#undef _mm512_cvtepi32_epi64
static inline __m512i _mm512_cvtepi32_epi64(__m256i a) {
  const auto in = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::Lanes<std::int32_t, 8>>(a);
  BNNFLOW_COMPAT_NS::I64x8 out;
  for (int i = 0; i < 8; ++i) out.v[i] = in.v[i];
  return BNNFLOW_COMPAT_NS::bits<__m512i>(out);
}

// Arithmetic right shift per lane; counts above 31 give the sign fill, as the hardware does.
#undef _mm512_srav_epi32
static inline __m512i _mm512_srav_epi32(__m512i a, __m512i count) {
  const auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::I32x16>(a);
  const auto n = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::Lanes<std::uint32_t, 16>>(count);
  BNNFLOW_COMPAT_NS::I32x16 out;
  for (int i = 0; i < 16; ++i) out.v[i] = n.v[i] > 31 ? (x.v[i] < 0 ? -1 : 0) : (x.v[i] >> n.v[i]);
  return BNNFLOW_COMPAT_NS::bits<__m512i>(out);
}

#undef _mm512_srav_epi64
static inline __m512i _mm512_srav_epi64(__m512i a, __m512i count) {
  const auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::I64x8>(a);
  const auto n = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::Lanes<std::uint64_t, 8>>(count);
  BNNFLOW_COMPAT_NS::I64x8 out;
  for (int i = 0; i < 8; ++i) out.v[i] = n.v[i] > 63 ? (x.v[i] < 0 ? -1 : 0) : (x.v[i] >> n.v[i]);
  return BNNFLOW_COMPAT_NS::bits<__m512i>(out);
}

#undef _mm512_cmplt_epi32_mask
static inline __mmask16 _mm512_cmplt_epi32_mask(__m512i a, __m512i b) {
  const auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::I32x16>(a);
  const auto y = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::I32x16>(b);
  unsigned m = 0;
  for (int i = 0; i < 16; ++i) m |= (x.v[i] < y.v[i] ? 1u : 0u) << i;
  return static_cast<__mmask16>(m);
}

#undef _mm512_cvtepi32_ps
static inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  const auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::I32x16>(a);
  BNNFLOW_COMPAT_NS::F32x16 out;
  for (int i = 0; i < 16; ++i) out.v[i] = static_cast<float>(x.v[i]);
  return BNNFLOW_COMPAT_NS::bits<__m512>(out);
}

// Intel's reduction order: halves added pairwise (512 -> 256 -> 128 -> 64 -> 32).
#undef _mm512_reduce_add_ps
static inline float _mm512_reduce_add_ps(__m512 a) {
  auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::F32x16>(a);
  for (int w = 8; w >= 1; w /= 2) {
    for (int i = 0; i < w; ++i) x.v[i] = x.v[i] + x.v[i + w];
  }
  return x.v[0];
}

#undef _mm512_reduce_add_epi32
static inline int _mm512_reduce_add_epi32(__m512i a) {
  const auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::Lanes<std::uint32_t, 16>>(a);
  std::uint32_t s = 0;
  for (int i = 0; i < 16; ++i) s += x.v[i];
  return static_cast<int>(s);
}

#undef _mm512_mask_storeu_epi32
static inline void _mm512_mask_storeu_epi32(void* p, __mmask16 k, __m512i a) {
  const auto x = BNNFLOW_COMPAT_NS::bits<BNNFLOW_COMPAT_NS::I32x16>(a);
  for (int i = 0; i < 16; ++i) {
    if ((k >> i) & 1) std::memcpy(static_cast<char*>(p) + 4 * i, &x.v[i], 4);
  }
}

#undef _mm512_maskz_loadu_epi8
static inline __m512i _mm512_maskz_loadu_epi8(__mmask64 k, const void* p) {
  BNNFLOW_COMPAT_NS::Lanes<std::int8_t, 64> out;
  for (int i = 0; i < 64; ++i) {
    out.v[i] = ((k >> i) & 1) ? static_cast<const std::int8_t*>(p)[i] : 0;  // masked lanes not read
  }
  return BNNFLOW_COMPAT_NS::bits<__m512i>(out);
}
