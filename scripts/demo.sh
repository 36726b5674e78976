#!/usr/bin/env bash
# The README's main job: install bnnflow with its training extra into .venv, then run
# `bnnflow demo` — train FTBNN-small on the built-in digits (stage 1, then BNN-Clip stage 2),
# export both data-flows, check agreement with PyTorch, time the engine against PyTorch, and
# write a table, demo.json and demo.png into bnnflow-demo/. Extra arguments go to
# `bnnflow demo` (e.g. scripts/demo.sh --out /tmp/demo --epochs 20 --threads 2).
# Installs reuse build/<wheel tag> (see scripts/_lib.sh); a failed install prints its log.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_lib.sh

install_into_venv "train"

bnnflow demo "$@"
echo "bnnflow is installed in .venv: run '. .venv/bin/activate' to use the bnnflow command"
