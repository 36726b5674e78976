// CPU features the engine dispatches on, and the ISA chosen from them.
#pragma once
#include <string>
#include <vector>

#include "common/isa_list.h"

namespace bnnflow {

struct CpuFeatures {
  bool avx2 = false;       // with FMA, POPCNT, BMI2
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vpopcntdq = false;
  bool avx512bitalg = false;
  bool avx512vnni = false;
  bool avxvnni = false;    // VEX-encoded VNNI (Alder Lake, Zen 5)
  bool neon = false;
};

// Read once from cpuid/xgetbv (x86) or the target (AArch64 always has NEON).
const CpuFeatures& cpu_features();

// The ISAs of isa_list.h, in its order (kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3).
#define BNNFLOW_ISA_ENUMERATOR_(name, Enum, arch, ...) Enum,
enum class Isa { BNNFLOW_ISA_LIST(BNNFLOW_ISA_ENUMERATOR_, ) };
#undef BNNFLOW_ISA_ENUMERATOR_
#define BNNFLOW_ISA_COUNT_(name, Enum, arch, ...) +1
inline constexpr int kIsaCount = 0 BNNFLOW_ISA_LIST(BNNFLOW_ISA_COUNT_, );
#undef BNNFLOW_ISA_COUNT_

// The ISA's name in isa_list.h ("scalar", "avx2", ...).
const char* isa_name(Isa isa);
// Parses a name of isa_list.h; throws std::invalid_argument otherwise.
Isa parse_isa(const std::string& name);
// Every ISA this CPU can run, scalar first.
std::vector<Isa> supported_isas();
bool isa_supported(Isa isa);
// The best supported ISA, or the one forced by BNNFLOW_ISA (throws if that one is unsupported).
Isa active_isa();

}  // namespace bnnflow
