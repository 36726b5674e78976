#!/usr/bin/env bash
# Developer build: compile the extension into src/bnnflow/ so `PYTHONPATH=src` uses it
# (each git worktree builds its own). Usage: scripts/dev-build.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_lib.sh
bdir=${1:-build/dev}
step dev-configure cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBNNFLOW_TESTS=ON -DPython_EXECUTABLE="$(command -v python3)" \
  -DBNNFLOW_SIMDE_HINTS="$(simde_include python3)"
grep "SIMDe" "$BNNFLOW_LOG_DIR/dev-configure.log" || true
cmake --build "$bdir"
cp -f "$bdir"/_engine*.so src/bnnflow/
