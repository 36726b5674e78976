#include "common/cpu_features.h"

#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define BNNFLOW_X86 1
#endif

namespace bnnflow {
namespace {

#if defined(BNNFLOW_X86)
unsigned long long xgetbv0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  const bool popcnt = c & (1u << 23);
  if (!osxsave) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool bmi2 = b & (1u << 8);
  f.avx2 = ymm_os && avx2 && fma && popcnt && bmi2;
  f.avx512f = zmm_os && (b & (1u << 16));
  f.avx512dq = f.avx512f && (b & (1u << 17));
  f.avx512bw = f.avx512f && (b & (1u << 30));
  f.avx512vl = f.avx512f && (b & (1u << 31));
  f.avx512vnni = f.avx512f && (c & (1u << 11));
  f.avx512bitalg = f.avx512f && (c & (1u << 12));
  f.avx512vpopcntdq = f.avx512f && (c & (1u << 14));
  __cpuid_count(7, 1, a, b, c, d);
  f.avxvnni = ymm_os && (a & (1u << 4));
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

namespace {
#define BNNFLOW_ISA_NAME_(name, Enum, arch, ...) #name,
constexpr const char* kIsaNames[kIsaCount] = {BNNFLOW_ISA_LIST(BNNFLOW_ISA_NAME_, )};
#undef BNNFLOW_ISA_NAME_
}  // namespace

const char* isa_name(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount ? kIsaNames[i] : "unknown";
}

Isa parse_isa(const std::string& name) {
  std::string expected;
  for (int i = 0; i < kIsaCount; ++i) {
    if (name == kIsaNames[i]) return static_cast<Isa>(i);
    expected += (i == 0 ? "" : ", ") + std::string(kIsaNames[i]);
  }
  throw std::invalid_argument("unknown ISA '" + name + "': expected one of " + expected);
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2;
    case Isa::kAvx512:
      return f.avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
             f.avx512vpopcntdq && f.avx512bitalg && f.avx512vnni;
    case Isa::kNeon: return f.neon;
  }
  return false;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (int i = 0; i < kIsaCount; ++i) {
    if (isa_supported(static_cast<Isa>(i))) out.push_back(static_cast<Isa>(i));
  }
  return out;
}

Isa active_isa() {
  if (const char* forced = std::getenv("BNNFLOW_ISA"); forced != nullptr && *forced != '\0') {
    const Isa isa = parse_isa(forced);
    if (!isa_supported(isa)) {
      throw std::runtime_error(std::string("BNNFLOW_ISA=") + forced +
                               " is not supported by this CPU");
    }
    return isa;
  }
  return supported_isas().back();
}

}  // namespace bnnflow
