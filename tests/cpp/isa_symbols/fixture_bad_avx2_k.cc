// Fixture of the isa_symbols self-test: an "AVX2" object that breaks the per-ISA rule in every
// way cmake/check_isa_symbols.cmake must catch. Built at -O0 (tests/cpp/CMakeLists.txt) so the
// inline code is emitted whatever the build type. Never linked into anything.
#include <vector>

namespace bnnflow::glue {
// A shared inline helper (weak symbol outside the ISA namespace): another ISA's object or an
// ISA-neutral one may define the same symbol, compiled with different flags.
inline int shared_helper(int x) { return 5 * x; }

// A strong definition outside the ISA namespace.
int not_in_isa_namespace(int x) { return shared_helper(x) + 2; }
}  // namespace bnnflow::glue

namespace bnnflow::avx512 {
// The wrong ISA's namespace.
int wrong_isa(int x) { return x - 1; }
}  // namespace bnnflow::avx512

extern "C" int bnnflow_c_symbol(int x) { return x + 7; }

namespace bnnflow::glue::avx2 {
int bad_kernel(int n) {
  std::vector<int> v;  // std::vector<int>'s members: weak symbols in namespace std
  for (int i = 0; i < n; ++i) v.push_back(shared_helper(i));
  return v.empty() ? 0 : v.back();
}
}  // namespace bnnflow::glue::avx2
