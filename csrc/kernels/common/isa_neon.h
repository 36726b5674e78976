// NEON intrinsics for every *_neon_* kernel: native <arm_neon.h> on AArch64, or SIMDe's
// portable versions when BNNFLOW_SIMDE_NEON is defined (the C++ tests compile the NEON sources
// a second time that way on x86, so NEON is checked without qemu too; common/isa_list.h's
// SIMDe twin neon_simde). The kernels define their symbols in namespace
// bnnflow[::glue]::BNNFLOW_NEON_NS, so both builds link side by side.
#pragma once
#if defined(BNNFLOW_SIMDE_NEON)
#ifndef SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_ENABLE_NATIVE_ALIASES
#endif
#include <simde/arm/neon.h>
#define BNNFLOW_NEON_NS neon_simde
#define BNNFLOW_NEON_ISA_NAME "neon_simde"
#else
#include <arm_neon.h>
#define BNNFLOW_NEON_NS neon
#define BNNFLOW_NEON_ISA_NAME "neon"
#endif
