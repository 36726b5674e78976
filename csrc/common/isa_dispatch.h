// The one run-time ISA picker of the kernels (docs/development.md, "Adding an ISA").
//
//   BNNFLOW_ISA_PICK(isa, ::bnnflow::glue, requant)  -> &::bnnflow::glue::<isa>::requant
//   BNNFLOW_ISA_PICK(isa, ::bnnflow, bconv_microkernel)(cout_g)
//
// builds the table of `scope::<name>::fn` over isa_list.h (nullptr for an ISA this target does
// not build) and returns the entry of `isa`; it throws std::invalid_argument when `isa` is not
// built into this binary or not supported by this CPU. Which ISA to ask for is active_isa()
// (cpu_features.h: the best the CPU runs, or BNNFLOW_ISA) unless the caller names one.
// Used only in ISA-neutral files (the table's template is instantiated there).
#pragma once
#include <stdexcept>
#include <string>

#include "common/cpu_features.h"
#include "common/isa_list.h"

namespace bnnflow {

template <class Fn>
Fn pick_isa_kernel(Isa isa, const char* op, const Fn (&table)[kIsaCount]) {
  const int i = static_cast<int>(isa);
  const Fn fn = i >= 0 && i < kIsaCount ? table[i] : nullptr;
  if (fn == nullptr || !isa_supported(isa)) {
    throw std::invalid_argument(std::string("isa: ") + op + " has no " + isa_name(isa) +
                                " kernel on this CPU");
  }
  return fn;
}

}  // namespace bnnflow

#define BNNFLOW_ISA_TABLE_ENTRY_(name, Enum, arch, scope, fn) \
  BNNFLOW_ISA_BUILT_##arch(&scope::name::fn),
// The table of BNNFLOW_ISA_PICK, for a kernel every ISA has (its type is the scalar one's).
#define BNNFLOW_ISA_TABLE(scope, fn) {BNNFLOW_ISA_LIST(BNNFLOW_ISA_TABLE_ENTRY_, scope, fn)}
// The same for a kernel only the vector ISAs have (scalar: nullptr), of type Fn.
#define BNNFLOW_VECTOR_ISA_TABLE(scope, fn) \
  {nullptr, BNNFLOW_VECTOR_ISA_LIST(BNNFLOW_ISA_TABLE_ENTRY_, scope, fn)}

#define BNNFLOW_ISA_PICK(isa, scope, fn)                                   \
  ::bnnflow::pick_isa_kernel<decltype(&scope::scalar::fn)>((isa), #fn,     \
                                                           BNNFLOW_ISA_TABLE(scope, fn))
