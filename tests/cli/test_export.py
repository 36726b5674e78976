"""``bnnflow export`` / ``run`` / ``summary`` on checkpoints trained for one epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bnnflow.cli.main import main
from bnnflow.format import read


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """(stage-1 checkpoint, stage-2 checkpoint) of ftbnn_small on digits, 1 epoch each."""
    import torch

    from bnnflow.train import TrainConfig, train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ckpt")
    s1, s2 = root / "s1", root / "s2"
    train(TrainConfig(model="ftbnn_small", out=str(s1), epochs=1, quiet=True, threads=1))
    train(TrainConfig(model="ftbnn_small", out=str(s2), epochs=1, stage=2,
                      init=str(s1 / "last.pt"), quiet=True, threads=1))
    return s1 / "last.pt", s2 / "last.pt"


def test_export_both_dataflows(ckpts, tmp_path, capsys):
    s1, s2 = ckpts
    for ckpt, dataflow in ((s2, "int8"), (s2, "float"), (s1, "float")):
        out = tmp_path / f"{ckpt.parent.name}_{dataflow}.bnn"
        assert main(["export", str(ckpt), "-o", str(out), "--dataflow", dataflow]) == 0
        model = read(out)
        assert model.graph.dataflow == dataflow
        assert model.graph.output_spec.class_names == [str(i) for i in range(10)]
        assert model.graph.metadata["model"] == "ftbnn_small"
        assert f"{dataflow} data-flow" in capsys.readouterr().out


def test_export_stage1_to_int8_is_a_usage_error(ckpts, tmp_path, capsys):
    out = tmp_path / "x.bnn"
    assert main(["export", str(ckpts[0]), "-o", str(out), "--dataflow", "int8"]) == 2
    err = capsys.readouterr().err
    assert "stage-1 checkpoint" in err and "--stage 2" in err and not out.exists()


def test_export_missing_checkpoint_and_bad_shape(tmp_path, ckpts, capsys):
    assert main(["export", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "x.bnn")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(ckpts[0]), "-o", str(tmp_path / "x.bnn"), "--input-shape",
                 "1,8"]) == 2
    assert "--input-shape" in capsys.readouterr().err


def test_run_data_matches_eval_and_summary(ckpts, tmp_path, capsys):
    s2 = ckpts[1]
    model = tmp_path / "m.bnn"
    assert main(["export", str(s2), "-o", str(model)]) == 0
    assert main(["run", str(model), "--data", "digits", "--json", str(tmp_path / "r.json")]) == 0
    assert main(["eval", str(s2), "--json", str(tmp_path / "e.json")]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    e = json.loads((tmp_path / "e.json").read_text())
    assert r["count"] == e["count"] == len(r["predictions"])
    # The frozen stage-2 model's eval forward is the engine's integer arithmetic
    # (bnnflow.nn.exact): identical logits, hence identical predictions, on every image.
    assert r["predictions"] == e["predictions"]
    assert r["accuracy"] == e["accuracy"]
    capsys.readouterr()
    assert main(["summary", str(model)]) == 0
    text = capsys.readouterr().out
    assert "int8 data-flow" in text and "bconv" in text and "peak activation memory" in text
    assert main(["summary", str(model), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["file_bytes"] == model.stat().st_size and doc["totals"]["binary_macs"] > 0


def test_export_wrong_inputs_fail_up_front(tmp_path, capsys):
    """A .bnn as the checkpoint, a directory, or an unwritable -o: usage errors before any
    work (no training checkpoint needed: the checks come before loading it)."""
    from bnnflow.format import save
    from bnnflow.graph.examples import tiny_int8_model

    model = tmp_path / "model.bnn"
    save(model, *tiny_int8_model(np.random.default_rng(0)))
    assert main(["export", str(model), "-o", str(tmp_path / "x.bnn")]) == 2
    err = capsys.readouterr().err
    assert "is a .bnn model" in err and "training checkpoint" in err
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "x.bnn")]) == 2
    assert "is a directory" in capsys.readouterr().err
    ck = tmp_path / "ck.pt"
    ck.write_bytes(b"PK\x03\x04" + bytes(64))
    for out, text in ((tmp_path / "no" / "d" / "x.bnn", "does not exist"),
                      (f"{tmp_path}/sub/", "is a directory"), (tmp_path, "is a directory")):
        assert main(["export", str(ck), "-o", str(out)]) == 2
        assert f"-o {out}: " in (err := capsys.readouterr().err) and text in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt", "model.bnn"]


def test_export_of_a_text_file_says_it_is_not_a_checkpoint(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello, notes\n")
    assert main(["export", str(notes), "-o", str(tmp_path / "x.bnn")]) == 2
    err = capsys.readouterr().err
    assert f"'{notes}' is not a PyTorch checkpoint: it starts with b'hello, n'" in err
    assert "101" not in err and not (tmp_path / "x.bnn").exists()


def test_eval_of_a_bnn_or_a_non_checkpoint_says_what_the_file_is(tmp_path, capsys):
    from bnnflow.format import save
    from bnnflow.graph.examples import tiny_int8_model

    model = tmp_path / "model.bnn"
    save(model, *tiny_int8_model(np.random.default_rng(0)))
    assert main(["eval", str(model)]) == 2
    err = capsys.readouterr().err
    assert f"'{model}' is a .bnn model (safetensors), not a training checkpoint: run it " \
        f"with `bnnflow run {model} IMAGE...`" in err
    assert "Unpickl" not in err and "weights_only" not in err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert main(["eval", str(notes)]) == 2
    assert "is not a PyTorch checkpoint" in capsys.readouterr().err
