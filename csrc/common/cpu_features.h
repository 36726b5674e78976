// CPU features the engine dispatches on, and the ISA chosen from them.
#pragma once
#include <string>
#include <vector>

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

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };

const char* isa_name(Isa isa);
// Parses "scalar" | "avx2" | "avx512" | "neon"; throws std::invalid_argument otherwise.
Isa parse_isa(const std::string& name);
// Every ISA this CPU can run, scalar first.
std::vector<Isa> supported_isas();
bool isa_supported(Isa isa);
// The best supported ISA, or the one forced by BNNFLOW_ISA (throws if that one is unsupported).
Isa active_isa();

}  // namespace bnnflow
