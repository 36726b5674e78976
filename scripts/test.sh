#!/usr/bin/env bash
# Install bnnflow with its training and test extras into .venv, then run every default check:
# ruff, the Python tests, the C++ tests natively (also under ASan + UBSan; with them a replay +
# mutation fuzz run of the native loader), and (when the cross toolchain and qemu-user are
# present) built for AArch64 and run under qemu-aarch64. BNNFLOW_FUZZ=1 adds a libFuzzer run.
# Slow and peer checks are opt-in: `pytest -m slow`, `pytest -m peers`.
#
# Needs only Python 3.10+ and a C++17 compiler: cmake, ninja and SIMDe's headers come from
# PyPI into .venv when the machine has none (SIMDe: the test extra's cmeel-simde). Installs
# reuse build/<wheel tag>; every build step writes build/logs/<step>.log, printed on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_lib.sh

install_into_venv "train,test,import"

ruff check src tests benchmarks

# Run the tests against the installed package, not the source tree.
(cd tests && python -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml .)

# SIMDe's headers as installed by the PyPI package cmeel-simde (test extra).
simde_hints=$(simde_include)

# The whole-model cases (converted models, inputs, reference logits), made once by the
# installed package for the three C++ builds below, whose ctest runs them on the C API on every
# ISA of the target (model_case.*: natively, under the sanitizers, under qemu-aarch64).
cases=$PWD/build/model_cases
rm -rf "$cases"  # no stale case from an older run
step model-cases python tests/cpp/engine/make_model_cases.py "$cases"

# cpp_tests NAME CMAKE-ARGS...: configure, build and run the C++ tests in build/cpp-NAME.
cpp_tests() {
  local name=$1
  shift
  step "cpp-$name-configure" cmake -S . -B "build/cpp-$name" -G Ninja -DBNNFLOW_PYTHON=OFF \
    -DBNNFLOW_TESTS=ON "-DBNNFLOW_SIMDE_HINTS=$simde_hints" "-DBNNFLOW_MODEL_CASES_DIR=$cases" "$@"
  if grep -q "SIMDe not found" "$BNNFLOW_LOG_DIR/cpp-$name-configure.log"; then
    echo "note: SIMDe headers not found (pip install cmeel-simde, or apt install" \
      "libsimde-dev): the SIMDe builds of the AVX-512 / NEON kernels are not tested ($name)" >&2
  fi
  step "cpp-$name-build" cmake --build "build/cpp-$name"
  ctest --test-dir "build/cpp-$name" --output-on-failure
}

cpp_tests native

# The same kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer (native kernels;
# the SIMDe builds are left out to keep the compile short): every read past a buffer's end,
# every signed overflow outside the documented wrap-arounds, fails the run.
cpp_tests asan -DBNNFLOW_TEST_SIMDE=OFF -DBNNFLOW_SANITIZE=address,undefined

# Fuzzing the native loader: every C++ test build above ran the fuzz_replay ctest (the
# committed corpus + 4,000 structure-aware mutants through the C API; under ASan + UBSan in
# build/cpp-asan). The libFuzzer run (clang, a build of its own, 2 x 30 s) is opt-in to keep
# this command short: BNNFLOW_FUZZ=1, or `bash fuzz/run.sh` (docs/fuzzing.md).
if [ "${BNNFLOW_FUZZ:-0}" = "1" ]; then
  bash fuzz/run.sh
else
  echo "note: libFuzzer run skipped (BNNFLOW_FUZZ=1 runs it; fuzz_replay ran above)" >&2
fi

if command -v aarch64-linux-gnu-g++ > /dev/null && command -v qemu-aarch64 > /dev/null; then
  cpp_tests aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
elif [ "${BNNFLOW_REQUIRE_AARCH64:-0}" = "1" ]; then
  echo "error: aarch64 cross toolchain or qemu-aarch64 missing" >&2
  exit 1
else
  echo "note: g++-aarch64-linux-gnu / qemu-user not installed; NEON tests skipped" >&2
fi
