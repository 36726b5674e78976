// The dispatcher's view of the CPU: scalar always runs, and BNNFLOW_ISA parsing is strict.
#include <cstdio>
#include <stdexcept>

#include "common/cpu_features.h"

int main() {
  int failed = 0, passed = 0;
  auto check = [&](bool ok, const char* what) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAILED: %s\n", what);
    }
  };
  const auto isas = bnnflow::supported_isas();
  check(!isas.empty() && isas.front() == bnnflow::Isa::kScalar, "scalar is first");
#if defined(__aarch64__)
  check(bnnflow::isa_supported(bnnflow::Isa::kNeon), "aarch64 has NEON");
#endif
  bool threw = false;
  try {
    bnnflow::parse_isa("sse9");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "unknown ISA name throws");
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
