#!/usr/bin/env bash
# Create the peer-engine virtual environments used by the side-by-side benchmarks
# (benchmarks/README.md). They live under .peers/ (gitignored) and are never part of the
# default install or test run.
#
#   scripts/peers-env.sh            # both environments
#   scripts/peers-env.sh lce        # only .peers/lce  (Larq Compute Engine, ~2.3 GB on disk)
#   scripts/peers-env.sh ort        # only .peers/ort  (ONNX Runtime + torch for the export, ~1.1 GB)
#
# Idempotent: an environment whose pinned packages already import is left alone; pass
# --force to rebuild it. Environment variables: PEERS_PYTHON (interpreter used to create the
# venvs, default python3.11 then python3), PEERS_DIR (default <repo>/.peers),
# TORCH_WHEEL (a local torch 2.13.0 CPU wheel; default the first match in /opt/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS_DIR=${PEERS_DIR:-$PWD/.peers}
FORCE=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    lce|ort) targets+=("$arg") ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "peers-env: unknown argument '$arg' (expected lce, ort, --force)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(lce ort)

# --- pinned versions (DESIGN.md, peer settings) -------------------------------------------
LCE_PKGS=(
  "larq-compute-engine==0.16.0"
  "tensorflow==2.16.1"
  "tf-keras==2.16.0"
  "larq==0.14.0"
  "larq-zoo==2.4.0"
)
ORT_VERSION=${ORT_VERSION:-1.31.1}
ONNX_VERSION=${ONNX_VERSION:-1.23.2}
TORCH_VERSION=2.13.0

say() { echo "peers-env: $*"; }

pick_python() {
  if [ -n "${PEERS_PYTHON:-}" ]; then echo "$PEERS_PYTHON"; return; fi
  for p in python3.11 python3; do
    if command -v "$p" > /dev/null; then command -v "$p"; return; fi
  done
  echo "peers-env: no python3 found; set PEERS_PYTHON" >&2
  exit 1
}

make_venv() {  # make_venv DIR -> creates DIR if missing (or --force)
  local dir=$1 py
  py=$(pick_python)
  if [ "$FORCE" = 1 ] && [ -d "$dir" ]; then
    say "removing $dir (--force)"
    rm -rf "$dir"
  fi
  if [ ! -x "$dir/bin/python" ]; then
    say "creating venv $dir with $py ($("$py" --version 2>&1))"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
  else
    say "venv $dir exists"
  fi
}

setup_lce() {
  local dir=$PEERS_DIR/lce
  if [ "$FORCE" = 0 ] && [ -x "$dir/bin/python" ] && TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 \
      "$dir/bin/python" - <<'EOF' 2> /dev/null
import importlib.metadata as md
want = {"larq-compute-engine": "0.16.0", "tensorflow": "2.16.1", "tf-keras": "2.16.0",
        "larq": "0.14.0", "larq-zoo": "2.4.0"}
bad = [k for k, v in want.items() if md.version(k) != v]
raise SystemExit(1 if bad else 0)
EOF
  then
    say "lce: $dir already has ${LCE_PKGS[*]}"
    return
  fi
  make_venv "$dir"
  say "lce: pip install ${LCE_PKGS[*]}"
  "$dir/bin/python" -m pip install -q "${LCE_PKGS[@]}"
  say "lce: checking imports"
  TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 "$dir/bin/python" -c \
    "import larq_compute_engine as lce, larq_zoo, tf_keras; print('peers-env: lce ok', lce.__version__ if hasattr(lce, '__version__') else '0.16.0')"
}

find_torch_wheel() {
  if [ -n "${TORCH_WHEEL:-}" ]; then echo "$TORCH_WHEEL"; return; fi
  local w
  for w in /opt/wheels/torch-${TORCH_VERSION}+cpu-*.whl; do
    [ -f "$w" ] && { echo "$w"; return; }
  done
  echo ""
}

setup_ort() {
  local dir=$PEERS_DIR/ort
  if [ "$FORCE" = 0 ] && [ -x "$dir/bin/python" ] && "$dir/bin/python" - <<EOF 2> /dev/null
import importlib.metadata as md
ok = (md.version("onnxruntime") == "$ORT_VERSION" and md.version("onnx") == "$ONNX_VERSION"
      and md.version("torch").startswith("$TORCH_VERSION"))
raise SystemExit(0 if ok else 1)
EOF
  then
    say "ort: $dir already has onnxruntime==$ORT_VERSION onnx==$ONNX_VERSION torch==$TORCH_VERSION"
    return
  fi
  make_venv "$dir"
  local wheel
  wheel=$(find_torch_wheel)
  if [ -n "$wheel" ]; then
    say "ort: pip install $wheel (pinned local CPU wheel)"
    "$dir/bin/python" -m pip install -q "$wheel"
  else
    # A plain PyPI torch may be a CUDA build (large); point TORCH_WHEEL at a CPU wheel or
    # PIP_EXTRA_INDEX_URL at a CPU index to avoid that. Only the ONNX export uses torch.
    say "ort: no local torch wheel (set TORCH_WHEEL to use one); pip install torch==$TORCH_VERSION"
    "$dir/bin/python" -m pip install -q "torch==$TORCH_VERSION"
  fi
  say "ort: pip install onnxruntime==$ORT_VERSION onnx==$ONNX_VERSION"
  "$dir/bin/python" -m pip install -q "onnxruntime==$ORT_VERSION" "onnx==$ONNX_VERSION"
  "$dir/bin/python" -c \
    "import onnxruntime as o, onnx, torch; print('peers-env: ort ok', o.__version__, onnx.__version__, torch.__version__)"
}

mkdir -p "$PEERS_DIR"
for t in "${targets[@]}"; do
  case "$t" in
    lce) setup_lce ;;
    ort) setup_ort ;;
  esac
done
say "done (${targets[*]}) in $PEERS_DIR"
