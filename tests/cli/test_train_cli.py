import json
import sys
from pathlib import Path

import pytest

from bnnflow.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TINY = "tests.train.tinymodels:tiny"


def _train(out, *extra):
    return main(["train", "--model", TINY, "--epochs", "1", "--batch-size", "128", "--quiet",
                 "--threads", "1", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert _train(out, "--epochs", "2") == 0
    return out


def test_eval_json_has_accuracy_and_predictions(trained, tmp_path, capsys):
    target = tmp_path / "eval.json"
    assert main(["eval", str(trained / "last.pt"), "--data", "digits", "--json",
                 str(target)]) == 0
    assert "accuracy" in capsys.readouterr().out
    result = json.loads(target.read_text())
    assert result["count"] == 360 and len(result["predictions"]) == 360
    assert result["model"] == TINY and result["stage"] == 1
    from bnnflow.train.data import load_digits

    labels = load_digits().test.labels.tolist()
    correct = sum(p == y for p, y in zip(result["predictions"], labels, strict=True))
    assert result["accuracy"] == correct / 360
    metrics = [json.loads(x) for x in (trained / "metrics.jsonl").read_text().splitlines()]
    assert result["accuracy"] == pytest.approx(metrics[-1]["test_acc"])


def test_eval_defaults_to_the_training_data(trained, capsys):
    assert main(["eval", str(trained / "last.pt")]) == 0
    assert "on digits" in capsys.readouterr().out


def test_plot_writes_png(trained, tmp_path, capsys):
    second = tmp_path / "second"
    assert _train(second, "--seed", "9") == 0
    png = tmp_path / "curves.png"
    assert main(["plot", str(trained), str(second), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_model_args_reach_the_builder(tmp_path):
    out = tmp_path / "wide"
    assert _train(out, "--model-arg", "width=4", "--model-arg", "dropout=0.0") == 0
    from bnnflow.train.checkpoint import load_model

    model, info = load_model(out / "last.pt")
    assert info["kwargs"]["width"] == 4 and model.stem.out_channels == 4


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "no_such_model"], "unknown model 'no_such_model'; available:"),
        (["--model", TINY, "--data", "mnist"], "unknown data set 'mnist'"),
        (["--model", TINY, "--data", "cifar10:/no/such/dir"], "'/no/such/dir'.*does not exist"),
        (["--model", TINY, "--stage", "2"], "--stage 2 needs --init"),
        (["--model", TINY, "--epochs", "0"], "--epochs must be at least 1"),
        (["--model", TINY, "--resume"], "--resume: no checkpoint .* holds no training run"),
        (["--epochs", "1"], "--model is required"),
        (["--model", TINY, "--model-arg", "oops"], "--model-arg 'oops'"),
        (["--model", TINY, "--model-arg", "bogus=1"], "rejects arguments"),
        (["--model", "ftbnn_small", "--model-arg", "bogus=1"], "'ftbnn_small' rejects"),
        (["--model", TINY, "--init", "/no/ckpt.pt"], "--init checkpoint '/no/ckpt.pt'"),
        (["--model", TINY, "--nesterov"], "--nesterov needs --optimizer sgd"),
        (["--model", TINY, "--label-smoothing", "1.5"], "--label-smoothing must be in"),
        (["--model", TINY, "--save-every-steps", "-1"], "--save-every-steps must be"),
        (["--model", TINY, "--teacher-model", "ftbnn_small_float"], "give --teacher too"),
        (["--model", TINY, "--transforms", "imagenet"], "applies to imagefolder"),
    ],
)
def test_train_bad_arguments(capsys, tmp_path, argv, message):
    argv = ["train", "--out", str(tmp_path / "x"), "--quiet", "--threads", "1", *argv]
    err = _error(capsys, argv)
    assert err.startswith("bnnflow train: error: ")
    import re

    assert re.search(message, err), err


def test_resume_with_changed_settings_is_an_error(trained, capsys):
    err = _error(capsys, ["train", "--out", str(trained), "--resume", "--epochs", "2",
                          "--lr", "0.1", "--quiet"])
    assert "--lr is 0.1 but" in err


def test_eval_and_plot_bad_arguments(capsys, tmp_path):
    assert "does not exist" in _error(capsys, ["eval", str(tmp_path / "none.pt")])
    assert "no metrics.jsonl" in _error(capsys, ["plot", str(tmp_path), "-o",
                                                 str(tmp_path / "a.png")])
    assert "must be a .png" in _error(capsys, ["plot", str(tmp_path), "-o", "a.jpg"])


def test_python_dash_m_entry_reports_usage_errors():
    """`python -m bnnflow.cli.main` (the torchrun entry) prints the error and exits 2."""
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "bnnflow.cli.main", "train", "--model", "nope",
                           "--out", "unused"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("bnnflow train: error: unknown model 'nope'; available:")


def test_train_into_an_existing_run_needs_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out) == 0
    err = _error(capsys, ["train", "--model", TINY, "--epochs", "1", "--quiet", "--out",
                          str(out)])
    assert "already holds a training run" in err and "--overwrite" in err
    assert "give one of them" in _error(capsys, ["train", "--out", str(out), "--resume",
                                                 "--overwrite"])
    (out / "keep.txt").write_text("x")
    assert _train(out, "--seed", "4", "--overwrite") == 0
    assert (out / "keep.txt").exists()
    assert json.loads((out / "config.json").read_text())["seed"] == 4


def test_ctrl_c_prints_what_was_saved_and_exits_130(tmp_path, capsys, monkeypatch):
    from bnnflow.train import trainer

    real_epoch = trainer.train_epoch

    def stop_at_2(run, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(run, epoch)

    monkeypatch.setattr(trainer, "train_epoch", stop_at_2)
    out = tmp_path / "run"
    assert _train(out, "--epochs", "3") == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{out}/last.pt holds epoch 1 of 3" in err
    command = f"bnnflow train --out {out} --resume --threads 1"
    assert err.rstrip().endswith(f"Resume with: {command}")
    monkeypatch.undo()
    # the printed command works, and says where it resumes
    assert main(command.split()[1:]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == (f"resuming {out} at epoch 2 of 3 ({out / 'last.pt'} "
                                       "holds 1 finished epoch)")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]


def test_resume_with_more_epochs_extends(trained, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(trained, out)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--threads",
                 "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"extending {out} from 2 to 3 epochs")
    assert "epoch 3/3" in printed
    err = _error(capsys, ["train", "--out", str(out), "--resume", "--epochs", "2"])
    assert "already holds 3 epochs; to train further give more than 3" in err


def test_stage2_of_a_model_without_int8_points_is_a_usage_error(trained, tmp_path, capsys):
    out = tmp_path / "s2"
    code = _train(out, "--stage", "2", "--init", str(trained / "last.pt"))
    assert code == 2
    err = capsys.readouterr().err
    assert "has no int8 points" in err and "Traceback" not in err


def test_out_naming_an_existing_file_is_a_usage_error(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("not a run")
    err = _error(capsys, ["train", "--model", TINY, "--quiet", "--out", str(target)])
    assert "is an existing file, not a directory" in err
    err = _error(capsys, ["train", "--resume", "--quiet", "--out", str(target)])
    assert "is an existing file, not a run directory" in err
    assert target.read_text() == "not a run"
