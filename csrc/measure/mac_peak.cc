#include "measure/mac_peak.h"

namespace bnnflow::glue {

MacPeakFn mac_peak_kernel(Isa isa) {
  const MacPeakFn table[kIsaCount] = BNNFLOW_VECTOR_ISA_TABLE(::bnnflow::glue, mac_peak_loop);
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount ? table[i] : nullptr;
}

}  // namespace bnnflow::glue
