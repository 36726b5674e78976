#!/usr/bin/env bash
# Run every peer driver once, one after the other, and write their JSON result lists.
#   benchmarks/run_peers.sh [OUT_DIR] [extra driver args, e.g. --threads 1,2 --batch 1,8]
# Needs the peer environments (scripts/peers-env.sh); the torch driver uses python3.
# NICE=-15 runs the drivers at that priority (needs root): with the kernel's autogroup
# scheduling (one group per session, groups share the CPU equally, a process's own nice only
# counts inside its group) this sets the nice of this session's autogroup; run the script
# under `setsid` so that only the benchmark is in that group. It keeps other processes from
# preempting the timed runs; it does not make a busy machine idle (caches, memory bandwidth).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/peers}
shift || true
mkdir -p "$out"
for env in lce ort; do
  if [ ! -x ".peers/$env/bin/python" ]; then
    echo "run_peers: .peers/$env missing; run scripts/peers-env.sh $env first" >&2
    exit 1
  fi
done
pre=()
if [ -n "${NICE:-}" ]; then
  pre=(nice -n "$NICE")
  if [ -w /proc/self/autogroup ]; then
    echo "$NICE" > /proc/self/autogroup && echo "run_peers: autogroup $(cat /proc/self/autogroup)"
  fi
fi
lscpu > "$out/lscpu.txt"
echo "== lce"
"${pre[@]}" .peers/lce/bin/python benchmarks/lce_driver.py --json "$out/lce.json" "$@" > /dev/null
echo "== ort"
"${pre[@]}" .peers/ort/bin/python benchmarks/ort_driver.py --json "$out/ort.json" "$@" > /dev/null
echo "== torch"
"${pre[@]}" python3 benchmarks/torch_driver.py --json "$out/torch.json" "$@" > /dev/null
echo "results in $out/{lce,ort,torch}.json"
