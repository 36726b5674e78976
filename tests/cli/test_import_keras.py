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


def test_to_torch_then_stage2_and_int8_export(tmp_path: Path, capsys) -> None:
    """The point of --to-torch: BNN-Clip stage 2 from the Larq weights, then int8 export."""
    PIL = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("test", 1)):
        for c in range(10):
            d = tmp_path / "imgs" / split / f"c{c}"
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                PIL.fromarray(img).save(d / f"{i}.png")
    ckpt = tmp_path / "m.pt"
    assert main(["import", "--to-torch", str(DATA / "birealnet_small.h5"), "--model-arg",
                 "filters=4", "--normalize", "imagenet", "-o", str(ckpt)]) == 0
    run = tmp_path / "run"
    assert main(["train", "--model", "birealnet18", "--model-arg", "filters=4", "--model-arg",
                 "tf_padding=true", "--init", str(ckpt), "--stage", "2", "--data",
                 f"imagefolder:{tmp_path / 'imgs'}", "--epochs", "1", "--batch-size", "8",
                 "--out", str(run)]) == 0
    assert main(["export", str(run / "last.pt"), "-o", str(tmp_path / "s2.bnn"),
                 "--dataflow", "int8"]) == 0
    from bnnflow.format import read

    ops = read(tmp_path / "s2.bnn").graph.ops
    assert ops[0].type == "conv2d_int8" and ops[0].attrs["padding"] == [2, 2, 3, 3]
