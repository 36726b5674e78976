// AVX-512 intrinsics for *_avx512_*.cc: native, or SIMDe's portable versions when the C++
// tests compile the same sources a second time with BNNFLOW_GLUE_SIMDE (symbols then land in
// namespace avx512_simde so both link side by side).
#pragma once
#if defined(BNNFLOW_GLUE_SIMDE)
#ifndef SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_ENABLE_NATIVE_ALIASES
#endif
#include <simde/x86/avx512.h>
#define BNNFLOW_AVX512_NS avx512_simde
#include "kernels/glue_common/simde_avx512_compat.h"
#else
#include <immintrin.h>
#define BNNFLOW_AVX512_NS avx512
#endif
