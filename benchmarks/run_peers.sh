#!/usr/bin/env bash
# Run every peer driver once, one after the other, and write their JSON result lists.
#   benchmarks/run_peers.sh [OUT_DIR] [extra driver args, e.g. --threads 1,2 --batch 1,8]
# Needs the peer environments (scripts/peers-env.sh); the torch driver uses python3.
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
lscpu > "$out/lscpu.txt"
echo "== lce";   .peers/lce/bin/python benchmarks/lce_driver.py   --json "$out/lce.json"   "$@" > /dev/null
echo "== ort";   .peers/ort/bin/python benchmarks/ort_driver.py   --json "$out/ort.json"   "$@" > /dev/null
echo "== torch"; python3               benchmarks/torch_driver.py --json "$out/torch.json" "$@" > /dev/null
echo "results in $out/{lce,ort,torch}.json"
