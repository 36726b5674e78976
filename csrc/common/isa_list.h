// The one list of the instruction sets the kernels are built for (docs/development.md,
// "Adding an ISA"). Everything ISA-shaped is generated from it: the Isa enum and its names
// (cpu_features.h), the per-ISA kernel declarations (BNNFLOW_DECLARE_ISAS), the run-time
// picker (isa_dispatch.h) and, in CMake, which sources build on which target and with which
// flags (cmake/isa_list.cmake reads this file for isa_flags.cmake; the ctest test_isa_list
// checks that it reads the same list).
//
// X(name, Enum, arch, ...): `name` is at once the ISA's namespace (bnnflow::name,
// bnnflow::glue::name), the token in its kernel file names (*_name_*.cc), its BNNFLOW_ISA value
// and its compile flags' variable in CMake (BNNFLOW_<NAME>_FLAGS); `Enum` its Isa enumerator;
// `arch` the target it is built for: any | x86 | arm64. The order is the Isa values and the
// preference: the last ISA the CPU supports is the default. One line per ISA, in this form,
// and in this textual order (CMake reads the lines in order; the ctest test_isa_list checks).
// The trailing arguments are passed through to X unchanged (a context for the caller).
#pragma once

#define BNNFLOW_ISA_LIST(X, ...)        \
  X(scalar, kScalar, any, __VA_ARGS__)  \
  BNNFLOW_VECTOR_ISA_LIST(X, __VA_ARGS__)

// The ISAs with vector units (all but scalar), in Isa order.
#define BNNFLOW_VECTOR_ISA_LIST(X, ...) \
  X(avx2, kAvx2, x86, __VA_ARGS__)      \
  X(avx512, kAvx512, x86, __VA_ARGS__)  \
  X(neon, kNeon, arm64, __VA_ARGS__)

// Test twins: an ISA's sources compiled a second time against SIMDe's portable intrinsics (the
// C++ tests only; kernels/common/isa_<base>.h), X(name, base, ...). They are declared with the
// ISAs but never picked at run time.
#define BNNFLOW_SIMDE_ISA_LIST(X, ...)        \
  X(avx512_simde, avx512, __VA_ARGS__)        \
  X(neon_simde, neon, __VA_ARGS__)

// BNNFLOW_ISA_BUILT_<arch>(e): e where this target builds that arch's ISAs, else nullptr.
#define BNNFLOW_ISA_BUILT_any(e) e
#if defined(__x86_64__) || defined(_M_X64)
#define BNNFLOW_ISA_BUILT_x86(e) e
#else
#define BNNFLOW_ISA_BUILT_x86(e) nullptr
#endif
#if defined(__aarch64__)
#define BNNFLOW_ISA_BUILT_arm64(e) e
#else
#define BNNFLOW_ISA_BUILT_arm64(e) nullptr
#endif

// Declares DECLS in the namespace of every ISA and SIMDe twin (inside the caller's namespace):
//   namespace bnnflow::glue {
//   BNNFLOW_DECLARE_ISAS(void requant(const RequantArgs&, ThreadPool*);)
//   }
#define BNNFLOW_ISA_DECLARE_NS_(name, Enum, arch, ...) \
  namespace name {                                     \
  __VA_ARGS__                                          \
  }
#define BNNFLOW_SIMDE_DECLARE_NS_(name, base, ...) \
  namespace name {                                 \
  __VA_ARGS__                                      \
  }
#define BNNFLOW_DECLARE_ISAS(...)                          \
  BNNFLOW_ISA_LIST(BNNFLOW_ISA_DECLARE_NS_, __VA_ARGS__)   \
  BNNFLOW_SIMDE_ISA_LIST(BNNFLOW_SIMDE_DECLARE_NS_, __VA_ARGS__)
