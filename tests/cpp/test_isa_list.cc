// The one ISA list (csrc/common/isa_list.h) as the C++ code sees it against the list CMake read
// from the same header (cmake/isa_list.cmake, passed as BNNFLOW_CMAKE_ISAS): the same names in
// the same order, every name parses back to its Isa, and the per-ISA namespaces were declared.
#include <cstdio>
#include <sstream>
#include <string>

#include "common/cpu_features.h"
#include "common/isa_dispatch.h"
#include "kernels/pack/pack.h"

int main() {
  int failed = 0, passed = 0;
  auto check = [&](bool ok, const std::string& what) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAILED: %s\n", what.c_str());
    }
  };
  std::string cxx;
  for (int i = 0; i < bnnflow::kIsaCount; ++i) {
    const auto isa = static_cast<bnnflow::Isa>(i);
    cxx += (i ? "," : "") + std::string(bnnflow::isa_name(isa));
    check(bnnflow::parse_isa(bnnflow::isa_name(isa)) == isa,
          std::string("parse_isa(isa_name(") + bnnflow::isa_name(isa) + "))");
  }
  check(cxx == BNNFLOW_CMAKE_ISAS,
        "C++ ISA list '" + cxx + "' == CMake's '" + std::string(BNNFLOW_CMAKE_ISAS) + "'");
  check(bnnflow::isa_name(bnnflow::Isa::kScalar) == std::string("scalar"), "scalar is Isa 0");
  // The picker: every supported ISA gives its kernel; an unsupported one throws.
  for (int i = 0; i < bnnflow::kIsaCount; ++i) {
    const auto isa = static_cast<bnnflow::Isa>(i);
    bool threw = false;
    try {
      (void)bnnflow::pack_kernels(isa);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    check(threw != bnnflow::isa_supported(isa),
          std::string("pack_kernels(") + bnnflow::isa_name(isa) + ") throws iff unsupported");
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
