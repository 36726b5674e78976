#!/usr/bin/env bash
# Final timing run of the session (lead only, on a quiet machine).
set -uo pipefail
cd /work/main
OUT=benchmarks/results/zen4-2026-12-05-s7
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
# bnnflow held to AVX2 beside LCE, which keeps every ISA of this CPU (a conservative stand-in
# for an AVX2-only machine, where LCE's XNNPACK parts would lose AVX-512 too)
mkdir -p $OUT/avx2-lce
BNNFLOW_ISA=avx2 $PY -m bnnflow.cli.main bench birealnet18 quicknet --threads 1 --batch 1 \
  --dataflows int8 --peers lce --runs 15 --workdir /tmp/bw2 \
  --json $OUT/avx2-lce/bench.json --markdown $OUT/avx2-lce/tables.md > /dev/null 2> $OUT/avx2-lce/bench.log
echo "avx2-lce done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
{
for m in birealnet18 quicknet; do for i in 1 2 3; do for t in 1 2; do
  echo "$m int8 avx512 threads $t round $i"
  build/ct/bnnflow-benchmark /tmp/bw2/$m-int8-s0.bnn --threads $t --runs 200 --warmup 20 | grep median
done; done; done
for m in birealnet18 quicknet; do for i in 1 2 3; do for d in int8 float; do
  echo "$m $d avx2 threads 1 round $i"
  build/ct/bnnflow-benchmark /tmp/bw2/$m-$d-s0.bnn --isa avx2 --runs 60 --warmup 5 | grep median
done; done; done
} > $OUT/native.txt 2>&1
echo "native done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
build/ct/bnnflow-benchmark /tmp/bw2/birealnet18-int8-s0.bnn --runs 200 --profile > $OUT/profile_birealnet18_1t.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/quicknet-int8-s0.bnn --runs 200 --profile > $OUT/profile_quicknet_1t.txt 2>&1
$PY -m bnnflow.bench.kernels --isa avx512 --repeats 200 > $OUT/kernels_avx512.txt 2>&1
$PY -m bnnflow.bench.kernels --isa avx2 --repeats 200 > $OUT/kernels_avx2.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/birealnet18-int8-s0.bnn --runs 100 --profile --isa avx2 > $OUT/profile_birealnet18_1t_avx2.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/quicknet-int8-s0.bnn --runs 100 --profile --isa avx2 > $OUT/profile_quicknet_1t_avx2.txt 2>&1
echo "end $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
# the digits demo models (bnnflow demo --out /tmp/demo5): int8 vs float data-flow, every ISA
mkdir -p $OUT/digits
for isa in avx512 avx2 scalar; do
  calls=4000; [ $isa = scalar ] && calls=400
  BNNFLOW_ISA=$isa $PY benchmarks/time_dataflows.py /tmp/demo5/ftbnn_small_int8.bnn /tmp/demo5/ftbnn_small_float.bnn $calls >> $OUT/digits/time_dataflows.txt 2>&1
done
echo "digits done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt

# --- then (the first pass's native block met a disturbed minute of the VM): native.txt, the
# profiles and kernels_*.txt made again by the same commands:
{
for m in birealnet18 quicknet; do for i in 1 2 3; do for t in 1 2; do
  echo "$m int8 avx512 threads $t round $i"
  build/ct/bnnflow-benchmark /tmp/bw2/$m-int8-s0.bnn --threads $t --runs 200 --warmup 20 | grep median
done; done; done
for m in birealnet18 quicknet; do for i in 1 2 3; do for d in int8 float; do
  echo "$m $d avx2 threads 1 round $i"
  build/ct/bnnflow-benchmark /tmp/bw2/$m-$d-s0.bnn --isa avx2 --runs 60 --warmup 5 | grep median
done; done; done
} > $OUT/native.txt 2>&1
echo "native done $(date -u +%T) $(uptime)" >> $OUT/uptime.txt
build/ct/bnnflow-benchmark /tmp/bw2/birealnet18-int8-s0.bnn --runs 200 --profile > $OUT/profile_birealnet18_1t.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/quicknet-int8-s0.bnn --runs 200 --profile > $OUT/profile_quicknet_1t.txt 2>&1
$PY -m bnnflow.bench.kernels --isa avx512 --repeats 200 > $OUT/kernels_avx512.txt 2>&1
$PY -m bnnflow.bench.kernels --isa avx2 --repeats 200 > $OUT/kernels_avx2.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/birealnet18-int8-s0.bnn --runs 100 --profile --isa avx2 > $OUT/profile_birealnet18_1t_avx2.txt 2>&1
build/ct/bnnflow-benchmark /tmp/bw2/quicknet-int8-s0.bnn --runs 100 --profile --isa avx2 > $OUT/profile_quicknet_1t_avx2.txt 2>&1
echo "end $(date -u +%T) $(uptime)" >> $OUT/uptime.txt

# run2/: the AVX-512 and AVX2 bench commands above again right after (OUT=$OUT/run2; run 1's
# AVX-512 minute was disturbed: its float models and peers ran 5-10 % slow too).
