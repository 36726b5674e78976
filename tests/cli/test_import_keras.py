"""``bnnflow import --to-torch``: a larq-zoo Keras .h5 → a checkpoint that exports and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bnnflow.cli.main import main

pytest.importorskip("h5py", reason="--to-torch needs h5py (bnnflow[import])")

DATA = Path(__file__).resolve().parents[1] / "models" / "data" / "keras"


def test_to_torch_then_export_runs_like_keras(tmp_path: Path, capsys) -> None:
    from bnnflow.runtime import Interpreter

    ckpt, bnn = tmp_path / "m.pt", tmp_path / "m.bnn"
    assert main(["import", "--to-torch", str(DATA / "birealnet_small.h5"), "--model",
                 "birealnet18", "--model-arg", "filters=4", "--image-size", "32",
                 "-o", str(ckpt)]) == 0
    assert "tf_padding=True" in capsys.readouterr().out
    assert main(["export", str(ckpt), "-o", str(bnn), "--dataflow", "float"]) == 0
    d = np.load(DATA / "birealnet_small.npz")
    got = Interpreter(str(bnn), num_threads=1).run(d["x"].astype(np.float32))
    keras = d["keras"]
    assert np.abs(got - keras).max() < 1e-4 * float((keras - keras.mean(0)).std())


def test_to_torch_names_the_layer_that_does_not_map(tmp_path: Path, capsys) -> None:
    assert main(["import", "--to-torch", str(DATA / "birealnet_small.h5"), "--model",
                 "quicknet", "-o", str(tmp_path / "m.pt")]) == 2
    assert "Keras layer 'batch_normalization'" in capsys.readouterr().err
