// Fixture of the isa_symbols self-test: an "AVX2" object that keeps the per-ISA rule (every
// externally visible symbol in bnnflow::...::avx2, helpers TU-local). Compiled without ISA
// flags: only its symbol table matters (cmake/check_isa_symbols.cmake reads the ISA from the
// file name).
namespace bnnflow::glue::avx2 {
namespace {
__attribute__((noinline)) int helper(int x) { return 3 * x; }
}  // namespace

// Weak (an inline function, emitted at -O0), but in the ISA's namespace: only AVX2 objects
// can define it.
__attribute__((noinline)) inline int isa_inline(int x) { return helper(x) + 1; }

int good_kernel(int x) {
  static int calls = 0;  // a TU-local static in an external function
  return isa_inline(x) + ++calls;
}

}  // namespace bnnflow::glue::avx2
