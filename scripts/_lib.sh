# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run): quiet steps with logs, and
# the .venv install that reuses one build folder.

# Logs of the steps, one file per step; kept after the run.
BNNFLOW_LOG_DIR=${BNNFLOW_LOG_DIR:-build/logs}

# step NAME CMD...: run CMD with its output in $BNNFLOW_LOG_DIR/NAME.log; when it fails, print
# the end of that log (the whole log stays in the file) and exit with CMD's status.
step() {
  local name=$1 rc=0
  shift
  mkdir -p "$BNNFLOW_LOG_DIR"
  local log="$BNNFLOW_LOG_DIR/$name.log" start=$SECONDS
  "$@" > "$log" 2>&1 || rc=$?
  echo "[step $name: exit $rc after $((SECONDS - start)) s]" >> "$log"
  if [ "$rc" -ne 0 ]; then
    {
      echo "error: step '$name' failed (exit $rc): $*"
      echo "----- last 200 lines of $log -----"
      tail -n 200 "$log"
      echo "----- end of $log -----"
    } >&2
    exit "$rc"
  fi
}

# version_at_least HAVE WANT: whether dotted version HAVE >= WANT.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

# install_into_venv EXTRAS: create .venv when missing, activate it, and pip-install bnnflow with
# EXTRAS (e.g. "train,test"). The build requirements of pyproject.toml's [build-system] (and
# cmake / ninja, when none new enough is on PATH) are installed into .venv and the package is
# built with --no-build-isolation, so every install configures the same build folder
# (pyproject: build-dir = "build/{wheel_tag}") with the same paths and recompiles only what
# changed, instead of the whole extension in a fresh temporary environment.
install_into_venv() {
  local extras=$1
  if [ ! -x .venv/bin/python ]; then
    step venv python3 -m venv .venv
    step pip-upgrade .venv/bin/python -m pip install --upgrade pip
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
  # Keep in step with [build-system] requires in pyproject.toml (tests/test_scripts.py checks).
  local reqs=("scikit-build-core>=0.10" "nanobind>=2.4")
  local have
  have=$(cmake --version 2> /dev/null | head -n 1 | awk '{print $3}') || true
  if [ -z "$have" ] || ! version_at_least "$have" 3.18; then
    reqs+=("cmake>=3.18")
  fi
  if ! ninja --version > /dev/null 2>&1; then
    reqs+=("ninja")
  fi
  step build-requirements python -m pip install "${reqs[@]}"
  step install python -m pip install --no-build-isolation ".[$extras]"
}

# simde_include [PYTHON]: the include folder of the PyPI package cmeel-simde installed for
# PYTHON (default: python), or nothing when it is not installed there.
simde_include() {
  "${1:-python}" - << 'PY'
import pathlib, sysconfig
inc = pathlib.Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix" / "include"
print(inc if (inc / "simde" / "x86" / "avx512.h").is_file() else "")
PY
}
