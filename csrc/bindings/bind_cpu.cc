#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings/registry.h"
#include "common/cpu_features.h"

namespace nb = nanobind;

BNNFLOW_BIND(cpu) {
  m.def(
      "cpu_features",
      []() {
        const bnnflow::CpuFeatures& f = bnnflow::cpu_features();
        nb::dict d;
        d["avx2"] = f.avx2;
        d["avx512f"] = f.avx512f;
        d["avx512bw"] = f.avx512bw;
        d["avx512vl"] = f.avx512vl;
        d["avx512dq"] = f.avx512dq;
        d["avx512vpopcntdq"] = f.avx512vpopcntdq;
        d["avx512bitalg"] = f.avx512bitalg;
        d["avx512vnni"] = f.avx512vnni;
        d["avxvnni"] = f.avxvnni;
        d["neon"] = f.neon;
        return d;
      },
      "The CPU features the engine dispatches on, as a dict of booleans.");
  m.def(
      "supported_isas",
      []() {
        std::vector<std::string> names;
        for (bnnflow::Isa isa : bnnflow::supported_isas()) names.emplace_back(bnnflow::isa_name(isa));
        return names;
      },
      "ISAs this CPU can run, scalar first.");
  m.def(
      "active_isa", []() { return std::string(bnnflow::isa_name(bnnflow::active_isa())); },
      "The ISA kernels dispatch to: the best supported one, or BNNFLOW_ISA when set.");
}
