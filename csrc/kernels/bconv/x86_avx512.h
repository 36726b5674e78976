// AVX-512 intrinsics for the *_avx512_* kernels: native <immintrin.h>, or SIMDe's portable
// implementation when BNNFLOW_SIMDE_AVX512 is defined (the C++ tests build every AVX-512
// kernel a second time that way, so they run on CPUs without AVX-512). The kernels define
// their symbols in namespace bnnflow::BNNFLOW_AVX512_NS, so both builds link side by side.
#pragma once
#if defined(BNNFLOW_SIMDE_AVX512)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#define BNNFLOW_AVX512_NS avx512_simde
#define BNNFLOW_AVX512_ISA_NAME "avx512-simde"
#else
#include <immintrin.h>
#define BNNFLOW_AVX512_NS avx512
#define BNNFLOW_AVX512_ISA_NAME "avx512"
#endif
