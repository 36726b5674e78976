// AVX-512 intrinsics for every *_avx512_* kernel: native <immintrin.h>, or SIMDe's portable
// implementation when BNNFLOW_SIMDE_AVX512 is defined (the C++ tests build the AVX-512 sources
// a second time that way, so they run on CPUs without AVX-512; common/isa_list.h's SIMDe
// twin avx512_simde). The kernels define their symbols in namespace
// bnnflow[::glue]::BNNFLOW_AVX512_NS, so both builds link side by side.
#pragma once
#if defined(BNNFLOW_SIMDE_AVX512)
#ifndef SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_ENABLE_NATIVE_ALIASES
#endif
#include <simde/x86/avx512.h>
#define BNNFLOW_AVX512_NS avx512_simde
#define BNNFLOW_AVX512_ISA_NAME "avx512-simde"
#include "kernels/common/simde_avx512_compat.h"  // intrinsics SIMDe lacks
#else
#include <immintrin.h>
#define BNNFLOW_AVX512_NS avx512
#define BNNFLOW_AVX512_ISA_NAME "avx512"
#endif

// The int16 multiply-adds every AVX-512 kernel shares (TU-local, as each ISA's objects must be:
// cmake/check_isa_symbols.cmake). madd16 is vpmaddwd (SIMDe 0.7.4's native alias of
// _mm512_madd_epi16 takes the wrong arity); madd16_add is acc + madd16(a, b) in one vpdpwssd
// (AVX512-VNNI, which the AVX-512 ISA level requires): the same int32 lanes bit for bit, since
// vpmaddwd's pair sum and vpaddd both wrap modulo 2^32 as vpdpwssd's sum does.
namespace bnnflow::BNNFLOW_AVX512_NS {
namespace {
inline __m512i madd16(__m512i a, __m512i b) {
#if defined(BNNFLOW_SIMDE_AVX512)
  return simde_mm512_madd_epi16(a, b);
#else
  return _mm512_madd_epi16(a, b);
#endif
}
inline __m512i madd16_add(__m512i acc, __m512i a, __m512i b) {
#if defined(BNNFLOW_SIMDE_AVX512)
  return _mm512_add_epi32(acc, simde_mm512_madd_epi16(a, b));
#else
  return _mm512_dpwssd_epi32(acc, a, b);
#endif
}
}  // namespace
}  // namespace bnnflow::BNNFLOW_AVX512_NS
