#!/usr/bin/env bash
# Install bnnflow with its training and test extras into .venv, then run every default check:
# ruff, the Python tests, the C++ kernel tests natively (also under ASan + UBSan), a short fuzz
# run of the native loader (when clang is installed), and (when the cross toolchain and
# qemu-user are present) built for AArch64 and run under qemu-aarch64.
# Slow and peer checks are opt-in: `pytest -m slow`, `pytest -m peers`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q ".[train,test]"

ruff check src tests benchmarks

# Run the tests against the installed package, not the source tree.
(cd tests && python -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml .)

cmake -S . -B build/cpp-native -G Ninja -DBNNFLOW_PYTHON=OFF -DBNNFLOW_TESTS=ON > /dev/null
cmake --build build/cpp-native > /dev/null
ctest --test-dir build/cpp-native --output-on-failure

# The same kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer (native kernels;
# the SIMDe builds are left out to keep the compile short): every read past a buffer's end,
# every signed overflow outside the documented wrap-arounds, fails the run.
cmake -S . -B build/cpp-asan -G Ninja -DBNNFLOW_PYTHON=OFF -DBNNFLOW_TESTS=ON \
  -DBNNFLOW_TEST_SIMDE=OFF -DBNNFLOW_SANITIZE=address,undefined > /dev/null
cmake --build build/cpp-asan > /dev/null
ctest --test-dir build/cpp-asan --output-on-failure

# libFuzzer on the native loader and executor (clang, ASan + UBSan; docs/fuzzing.md): the
# committed corpus replayed, then 30 s per target. Skipped with a note when clang is absent.
bash fuzz/run.sh

if command -v aarch64-linux-gnu-g++ > /dev/null && command -v qemu-aarch64 > /dev/null; then
  cmake -S . -B build/cpp-aarch64 -G Ninja -DBNNFLOW_PYTHON=OFF -DBNNFLOW_TESTS=ON \
    -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake > /dev/null
  cmake --build build/cpp-aarch64 > /dev/null
  ctest --test-dir build/cpp-aarch64 --output-on-failure
elif [ "${BNNFLOW_REQUIRE_AARCH64:-0}" = "1" ]; then
  echo "error: aarch64 cross toolchain or qemu-aarch64 missing" >&2
  exit 1
else
  echo "note: g++-aarch64-linux-gnu / qemu-user not installed; NEON tests skipped" >&2
fi
