#!/usr/bin/env bash
# Build the libFuzzer targets of the native loader (clang, ASan + UBSan, docs/fuzzing.md),
# replay the committed corpus (fuzz/corpus), then fuzz each target for FUZZ_SECONDS (default
# 30) on one core from the seeds, fuzz/corpus and the corpus of earlier runs. Exits non-zero on
# a crash, a sanitizer report, a hang or a broken C API contract (the input is saved under
# build/fuzz/artifacts/).
#
#   bash fuzz/run.sh                      # the CI run: 2 x 30 s
#   FUZZ_SECONDS=1800 bash fuzz/run.sh    # the long run (docs/fuzzing.md)
#
# Without clang / libFuzzer the run is skipped with a note (exit 0), unless
# BNNFLOW_REQUIRE_FUZZ=1. The corpus grows in build/fuzz/corpus-* across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
BUILD=build/fuzz

skip() {
  if [ "${BNNFLOW_REQUIRE_FUZZ:-0}" = "1" ]; then
    echo "error: $1" >&2
    exit 1
  fi
  echo "note: $1; fuzz run skipped (apt-get install clang libclang-rt-14-dev)" >&2
  exit 0
}
command -v clang++ > /dev/null && command -v clang > /dev/null || skip "clang not installed"
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - 2> /dev/null; then
  skip "clang cannot link libFuzzer (libclang-rt-*-dev missing)"
fi

. scripts/_lib.sh  # step NAME CMD...: output to build/logs/NAME.log, printed on failure
step fuzz-configure cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBNNFLOW_PYTHON=OFF \
  -DBNNFLOW_FUZZ=ON -DBNNFLOW_TESTS=OFF -DBNNFLOW_TOOLS=OFF -DBNNFLOW_INSTALL=OFF
step fuzz-build cmake --build "$BUILD" --target bnnflow_fuzz_model bnnflow_fuzz_model_structured

# Seeds: real .bnn files from the Python package when it is importable (fresh every run),
# always the C API fixtures and the committed corpus (fuzz/corpus).
SEEDS="$BUILD/seeds"
rm -rf "$SEEDS" && mkdir -p "$SEEDS"
PY="${PYTHON:-python3}"
if PYTHONPATH=src "$PY" -c "import bnnflow.format, torch" 2> /dev/null; then
  PYTHONPATH=src "$PY" fuzz/make_seeds.py "$SEEDS"
else
  echo "note: bnnflow (with torch) not importable by $PY; seeds are the committed fixtures only" >&2
fi
cp tests/cpp/engine/data/*.bnn "$SEEDS"/

mkdir -p "$BUILD/artifacts"
FLAGS=(-max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=fuzz/bnn.dict
       -artifact_prefix="$BUILD/artifacts/")
run() {  # run LOG CMD...: the command's output into LOG; on failure show it and stop
  local log="$1" rc=0
  shift
  "$@" > "$log" 2>&1 || rc=$?
  grep -E "^(#[0-9]+[[:space:]]+DONE|stat::|INFO: seed corpus)" "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "error: $(basename "$1") failed (exit $rc); the input is in $BUILD/artifacts/" >&2
    exit "$rc"
  fi
}
# Every committed input once (libFuzzer runs the files given as arguments and exits).
run "$BUILD/replay.log" "$BUILD/fuzz/bnnflow_fuzz_model" "${FLAGS[@]}" fuzz/corpus/*
echo "replayed $(grep -c '^Executed ' "$BUILD/replay.log") committed inputs (fuzz/corpus)"
for target in bnnflow_fuzz_model_structured bnnflow_fuzz_model; do
  corpus="$BUILD/corpus-$target"
  mkdir -p "$corpus"
  echo "== $target: ${SECONDS_PER_TARGET} s (log: $BUILD/$target.log)"
  run "$BUILD/$target.log" "$BUILD/fuzz/$target" "${FLAGS[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" "$corpus" "$SEEDS" fuzz/corpus
done
