#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bindings/registry.h"

namespace bnnflow::bind {
namespace {
std::vector<std::pair<const char*, Binder>>& binders() {
  static std::vector<std::pair<const char*, Binder>> all;
  return all;
}
}  // namespace

int add(const char* name, Binder binder) {
  binders().emplace_back(name, binder);
  return 0;
}

void run_all(nanobind::module_& m) {
  auto& all = binders();
  // Static initialisation order across files is unspecified; bind in a stable order.
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return std::strcmp(a.first, b.first) < 0; });
  for (const auto& [name, binder] : all) binder(m);
}
}  // namespace bnnflow::bind

NB_MODULE(_engine, m) {
  m.doc() = "bnnflow's C++ engine: packed binary convolution and integer glue kernels.";
  bnnflow::bind::run_all(m);
}
