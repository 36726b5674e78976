"""The larq-zoo models, converted by Larq Compute Engine, imported and compared (docs/import.md).

Needs the LCE peer environment (``scripts/peers-env.sh lce``; ``PEERS_DIR`` as there): each
case builds the model with ``benchmarks/lce_make.py`` (seeded random weights, calibrated
random BN statistics, 224x224, float inference), runs LCE's interpreter, imports the file and
runs it on bnnflow's engine (``benchmarks/lce_import_check.py``). A few minutes per model::

    PYTHONPATH=src python -m pytest -m peers tests/convert/test_lce_zoo.py
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("tflite", reason="the importer needs the 'tflite' package (bnnflow[import])")

REPO = Path(__file__).resolve().parents[2]
ZOO = ["quicknet", "quicknetsmall", "quicknetlarge", "birealnet", "binaryresnete18",
       "binarydensenet28", "binarydensenet37", "realtobinarynet", "meliusnet22"]


def _check_module():
    spec = importlib.util.spec_from_file_location(
        "lce_import_check", REPO / "benchmarks" / "lce_import_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.peers
@pytest.mark.parametrize("model", ZOO)
def test_zoo_model_against_lce(model: str, tmp_path: Path) -> None:
    lce_python = Path(os.environ.get("PEERS_DIR", REPO / ".peers")) / "lce" / "bin" / "python"
    if not lce_python.exists():
        pytest.fail(f"no LCE environment at {lce_python}: run scripts/peers-env.sh lce")
    subprocess.run([str(lce_python), str(REPO / "benchmarks" / "lce_make.py"), "--models",
                    model, "--kinds", "float", "--random", "32", "--out", str(tmp_path)],
                   check=True)
    rec = _check_module().agree(str(tmp_path / f"{model}_float.tflite"))
    assert "error" not in rec, rec.get("error")
    # bnnflow computes LCE's graph; against LCE it does at least as well as the Keras model
    # the file came from (LCE's float32 rounding flips near-zero signs in residual models and
    # the flip cascades: docs/import.md), and it agrees with LCE or with Keras on most inputs.
    assert rec["agree_lce"] >= rec["agree_keras_lce"] - 0.15, rec
    assert rec["top1_lce"] >= rec["top1_keras_lce"] - 0.15, rec
    assert max(rec["agree_lce"], rec["agree_bnnflow_keras"]) >= 0.75, rec
