#!/usr/bin/env bash
# The README's main job: install bnnflow with its training extra into .venv, then run
# `bnnflow demo` — train FTBNN-small on the built-in digits (stage 1, then BNN-Clip stage 2),
# export both data-flows, check agreement with PyTorch, time the engine against PyTorch, and
# write a table, demo.json and demo.png. Extra arguments go to `bnnflow demo`
# (e.g. scripts/demo.sh --out /tmp/demo --epochs 20 --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q ".[train]"

bnnflow demo "$@"
