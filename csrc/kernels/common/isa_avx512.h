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
