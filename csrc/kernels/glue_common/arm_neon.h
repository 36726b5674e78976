// NEON intrinsics for *_neon_*.cc: native on AArch64, or SIMDe's portable versions when the
// C++ tests compile the same sources a second time with BNNFLOW_GLUE_SIMDE_NEON (on x86, so
// NEON is checked without qemu; symbols then land in namespace neon_simde).
#pragma once
#if defined(BNNFLOW_GLUE_SIMDE_NEON)
#ifndef SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_ENABLE_NATIVE_ALIASES
#endif
#include <simde/arm/neon.h>
#define BNNFLOW_NEON_NS neon_simde
#else
#include <arm_neon.h>
#define BNNFLOW_NEON_NS neon
#endif
