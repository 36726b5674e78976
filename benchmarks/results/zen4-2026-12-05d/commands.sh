#!/usr/bin/env bash
# Final timing run of the session (lead only, on a quiet machine).
set -uo pipefail
cd /work/main
OUT=benchmarks/results/zen4-2026-12-05d
mkdir -p $OUT/avx2
PY=.venv/bin/python
export PYTHONPATH=src
lscpu > $OUT/lscpu.txt
$PY -c "from bnnflow.cli.main import main; main(['info'])" > $OUT/info.txt
echo "start $(date -u +%T) $(uptime)" > $OUT/uptime.txt
$PY -m bnnflow.cli.main bench birealnet18 quicknet --threads 1,2 --batch 1 \
  --peers lce,torch,onnxruntime,onnxruntime-int8 --runs 15 --profile --workdir /tmp/bw2 \
  --json $OUT/bench.json --markdown $OUT/tables.md --plot $OUT/bench.png > /dev/null 2> $OUT/bench.log
echo "bench done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
BNNFLOW_ISA=avx2 $PY -m bnnflow.cli.main bench birealnet18 quicknet --threads 1,2 --batch 1 \
  --peers none --runs 15 --warmup 3 --workdir /tmp/bw2 \
  --json $OUT/avx2/bench.json --markdown $OUT/avx2/tables.md > /dev/null 2> $OUT/avx2/bench.log
echo "avx2 done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
{
for m in birealnet18 quicknet; do for i in 1 2 3; do for t in 1 2; do
  echo "$m int8 avx512 threads $t round $i"
  build/ct/bnnflow-benchmark /tmp/bw2/$m-int8-s0.bnn --threads $t --runs 200 --warmup 20 | grep median
done; done; done
for i in 1 2 3; do for d in int8 float; do
  echo "birealnet18 $d avx2 threads 1 round $i"
  build/ct/bnnflow-benchmark /tmp/bw2/birealnet18-$d-s0.bnn --isa avx2 --runs 60 --warmup 5 | grep median
done; done
} > $OUT/native.txt 2>&1
echo "native done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
build/ct/bnnflow-benchmark /tmp/bw2/birealnet18-int8-s0.bnn --runs 200 --profile > $OUT/profile_birealnet18_1t.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/quicknet-int8-s0.bnn --runs 200 --profile > $OUT/profile_quicknet_1t.txt 2>&1
$PY -m bnnflow.bench.kernels --isa avx512 --repeats 200 > $OUT/kernels_avx512.txt 2>&1
echo "end $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
# The AVX2 bench was run again at 14:35 after the fix that bounds it by the AVX2 ceilings (same command).
# Warm-up curve of the bench's bursts (14:31):
PYTHONPATH=src $PY $OUT/burstpos.py /tmp/bw2 10 15 > $OUT/burstpos.txt
# awake_ab.txt: build/ct/bnnflow-benchmark of main and of a build with the two
# `ThreadPool::Awake` lines of csrc/engine/model.cc removed, alternated (see the file).
