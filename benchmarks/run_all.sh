#!/usr/bin/env bash
# The whole benchmark in one command: bnnflow (int8 and float data-flows) and every peer, the
# three models, 1 and 2 threads, batch 1 and 8; JSON, PNG chart, Markdown tables, per-op
# profiles, memory, and the layer-for-layer table. Run it on a quiet machine.
#   benchmarks/run_all.sh [OUT_DIR]            (default out/bench-all)
# Environment: RUNS (timed calls per case, default 20), THREADS (1,2), BATCH (1,8),
# MODELS ("birealnet18 quicknet ftbnn18"), PEERS (all), MAX_LOAD (refuse above it; unset:
# only warn), NICE (e.g. -15, needs root; see run_peers.sh: run under `setsid`).
# Needs: scripts/dev-build.sh done, the peer venvs in .peers/ (scripts/peers-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/bench-all}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
pre=()
if [ -n "${NICE:-}" ]; then
  pre=(nice -n "$NICE")
  if [ -w /proc/self/autogroup ]; then echo "$NICE" > /proc/self/autogroup; fi
fi
lscpu > "$out/lscpu.txt"
python3 -m bnnflow.cli.main info > "$out/info.txt"
echo "start: $(date -u +%FT%TZ) $(uptime)" | tee "$out/uptime.txt"
extra=()
if [ -n "${MAX_LOAD:-}" ]; then extra+=(--max-load "$MAX_LOAD"); fi
# shellcheck disable=SC2086
"${pre[@]}" python3 -m bnnflow.cli.main bench ${MODELS:-birealnet18 quicknet ftbnn18} \
  --threads "${THREADS:-1,2}" --batch "${BATCH:-1,8}" --peers "${PEERS:-all}" \
  --runs "${RUNS:-20}" --warmup 3 --profile --memory --workdir "$out/models" \
  --json "$out/bench.json" --plot "$out/bench.png" --markdown "$out/tables.md" \
  "${extra[@]}" > /dev/null 2> >(tee "$out/bench.log" >&2)
python3 benchmarks/layer_compare.py > "$out/layers.md"
echo "end: $(date -u +%FT%TZ) $(uptime)" | tee -a "$out/uptime.txt"
echo "results: $out/{bench.json,bench.png,tables.md,layers.md,bench.log (per-op profiles)}"
