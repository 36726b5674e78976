// Each binding file registers itself, so adding a kernel family never edits a shared file:
//
//   BNNFLOW_BIND(bconv) { m.def("bconv2d", ...); }
#pragma once
#include <nanobind/nanobind.h>

namespace bnnflow::bind {
using Binder = void (*)(nanobind::module_&);
int add(const char* name, Binder binder);
void run_all(nanobind::module_& m);
}  // namespace bnnflow::bind

#define BNNFLOW_BIND(name)                                                        \
  static void bnnflow_bind_##name(nanobind::module_& m);                          \
  [[maybe_unused]] static const int bnnflow_bind_reg_##name =                     \
      bnnflow::bind::add(#name, bnnflow_bind_##name);                             \
  static void bnnflow_bind_##name(nanobind::module_& m)
