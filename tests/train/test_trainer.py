import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bnnflow.train import modelspec, trainer
from bnnflow.train.checkpoint import load_model, read_checkpoint
from bnnflow.train.trainer import TrainError, train

from .conftest import ROOT


def _records(out):
    lines = Path(out, "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


TIMING = ("seconds", "images_per_s", "data_wait_s", "data_wait_share")


def _strip_time(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_short_run_learns_and_writes_files(tiny_config):
    config = tiny_config(epochs=3, batch_size=32)
    returned = train(config)
    out = Path(config.out)
    records = _records(out)
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert _strip_time(returned) == _strip_time(records)
    assert set(records[0]) >= {"epoch", "train_loss", "test_acc", "lr", "seconds"}
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert records[-1]["test_acc"] > 0.5  # chance is 0.1
    assert records[-1]["lr"] < records[0]["lr"]  # cosine decay
    best = read_checkpoint(out / "best.pt")
    assert best["metrics"]["test_acc"] == max(r["test_acc"] for r in records)
    config_json = json.loads((out / "config.json").read_text())
    assert config_json["model"] == config.model and config_json["epochs"] == 3


def test_seeded_runs_are_identical(tiny_config, tmp_path):
    a = train(tiny_config(out=str(tmp_path / "a")))
    b = train(tiny_config(out=str(tmp_path / "b")))
    c = train(tiny_config(out=str(tmp_path / "c"), seed=4))
    assert _strip_time(a) == _strip_time(b)
    assert _strip_time(a) != _strip_time(c)


def test_interrupted_run_resumes_exactly(tiny_config, tmp_path, monkeypatch):
    full = tiny_config(out=str(tmp_path / "full"), epochs=4)
    train(full)

    part = tiny_config(out=str(tmp_path / "part"), epochs=4)
    real_epoch = trainer.train_epoch

    def interrupt_at_3(run, epoch):
        if epoch == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of epoch 3
        return real_epoch(run, epoch)

    monkeypatch.setattr(trainer, "train_epoch", interrupt_at_3)
    with pytest.raises(KeyboardInterrupt):
        train(part)
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "part" / "last.pt")["epoch"] == 2
    resumed = tiny_config(out=str(tmp_path / "part"), epochs=4, resume=True)
    assert [r["epoch"] for r in train(resumed)] == [3, 4]

    assert _strip_time(_records(tmp_path / "part")) == _strip_time(_records(tmp_path / "full"))
    a = read_checkpoint(tmp_path / "full" / "last.pt")
    b = read_checkpoint(tmp_path / "part" / "last.pt")
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_resume_with_teacher_is_exact(tiny_config, tmp_path, monkeypatch):
    """Building the teacher draws from the RNG; resume must not shift the stream."""
    train(tiny_config(out=str(tmp_path / "t"), epochs=1))
    kd = {"teacher": str(tmp_path / "t" / "last.pt"), "epochs": 2}
    full = train(tiny_config(out=str(tmp_path / "full"), **kd))
    real_epoch = trainer.train_epoch

    def stop_at_2(run, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(run, epoch)

    monkeypatch.setattr(trainer, "train_epoch", stop_at_2)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(out=str(tmp_path / "part"), **kd))
    monkeypatch.undo()
    resumed = train(tiny_config(out=str(tmp_path / "part"), resume=True, **kd))
    assert _strip_time(resumed) == _strip_time(full[1:])


def test_resume_rejects_changed_settings(tiny_config):
    train(tiny_config(epochs=1))
    with pytest.raises(TrainError, match=r"--lr is 0\.5 but"):
        train(tiny_config(epochs=1, lr=0.5, resume=True))
    assert train(tiny_config(epochs=1, resume=True)) == []  # already complete


def test_resume_without_checkpoint(tiny_config):
    with pytest.raises(TrainError, match="no checkpoint"):
        train(tiny_config(resume=True))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"stage": 2}, "--stage 2 needs --init"),
        ({"stage": 3}, "--stage must be 1 or 2"),
        ({"schedule": "step"}, "--schedule must be one of"),
        ({"kd_alpha": 1.5}, "--kd-alpha"),
        ({"init": "/nonexistent.pt"}, "--init checkpoint '/nonexistent.pt' does not exist"),
    ],
)
def test_bad_configs(tiny_config, overrides, message):
    with pytest.raises(TrainError, match=message):
        train(tiny_config(**overrides))


def test_distillation_from_a_teacher(tiny_config, tmp_path):
    teacher = tiny_config(out=str(tmp_path / "teacher"), epochs=2)
    train(teacher)
    student = tiny_config(out=str(tmp_path / "student"), epochs=1,
                          teacher=str(tmp_path / "teacher" / "last.pt"), kd_alpha=0.9)
    plain = tiny_config(out=str(tmp_path / "plain"), epochs=1)
    kd = train(student)[0]
    ce = train(plain)[0]
    assert kd["train_loss"] != ce["train_loss"]  # the KD term changes the objective


def test_stage2_calibrates_then_freezes(tiny_config, tmp_path, monkeypatch):
    """The recipe's order: enable_int8, calibrate in eval mode, freeze, then fine-tune."""
    train(tiny_config(out=str(tmp_path / "s1"), epochs=1))
    calls = []

    def enable(model):
        calls.append("enable")
        model.register_buffer("int8_scale", torch.zeros(1))

    def calibrate(model, batches):
        batches = list(batches)
        assert not model.training and not torch.is_grad_enabled()
        calls.append(("calibrate", len(batches), tuple(batches[0].shape)))
        model.int8_scale.fill_(max(float(b.max()) for b in batches))

    def freeze(model):
        calls.append("freeze")

    monkeypatch.setattr(modelspec, "enable_int8", enable)
    monkeypatch.setattr(modelspec, "calibrate", calibrate)
    monkeypatch.setattr(modelspec, "freeze_int8", freeze)
    monkeypatch.setattr(modelspec, "has_int8_points", lambda model: True)
    config = tiny_config(out=str(tmp_path / "s2"), epochs=1, stage=2,
                         init=str(tmp_path / "s1" / "last.pt"), calib_batches=3)
    record = train(config)[0]
    assert calls == ["enable", ("calibrate", 3, (128, 1, 8, 8)), "freeze"]
    assert record["stage"] == 2 and record["lr"] <= 2e-4
    calls.clear()
    model, info = load_model(tmp_path / "s2" / "last.pt")
    assert calls == ["enable", "freeze"]  # rebuilt in the frozen int8 state
    assert info["stage"] == 2 and info["int8"] == {"enabled": True, "frozen": True}
    assert float(model.int8_scale) == 240.0
    again = tiny_config(out=str(tmp_path / "s3"), stage=2, init=str(tmp_path / "s2" / "last.pt"))
    with pytest.raises(TrainError, match="is an int8 \\(stage-2\\) checkpoint"):
        train(again)


def test_ddp_two_processes_match_files(tmp_path):
    """torchrun with 2 gloo processes: rank 0 alone writes, the result is a valid run.

    Step checkpoints reduce the running sums over the ranks in the middle of epochs, so a
    collective out of step would hang or fail here."""
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "bnnflow.cli.main", "train", "--model", "tests.train.tinymodels:tiny",
           "--epochs", "2", "--batch-size", "128", "--out", str(out), "--seed", "3",
           "--device", "cpu", "--save-every-steps", "5"]  # mid-epoch saves: collectives
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _records(out)
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["test_acc"] > 0.3
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    assert proc.stdout.count("epoch 2/2") == 1  # only rank 0 prints
    _, info = load_model(out / "last.pt")
    assert info["epoch"] == 2
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt", "config.json", "last.pt", "metrics.jsonl"]


def test_imagefolder_run_with_workers(tiny_config, tmp_path):
    """RGB image folder → crop+flip augmentation → lazy decoding in a worker process."""
    from PIL import Image

    for split, n in (("train", 12), ("test", 4)):
        for c, colour in enumerate(((250, 10, 10), (10, 10, 250))):
            folder = tmp_path / "img" / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (10, 10), tuple(v + i for v in colour)).save(folder / f"{i}.png")
    config = tiny_config(data=f"imagefolder:{tmp_path / 'img'}", image_size=8, workers=1,
                         batch_size=8, epochs=2, lr=0.01)
    records = train(config)
    assert len(records) == 2
    _, info = load_model(Path(config.out) / "last.pt")
    assert info["kwargs"] == {"num_classes": 2, "in_channels": 3}
    assert info["data"]["class_names"] == ["class0", "class1"]


class _FakeTTY:
    def __init__(self):
        self.text = []

    def isatty(self):
        return True

    def write(self, s):
        self.text.append(s)

    def flush(self):
        pass


def test_progress_bar_only_on_a_tty_and_not_quiet(tiny_config, monkeypatch):
    tty = _FakeTTY()
    monkeypatch.setattr(trainer.sys, "stderr", tty)
    lines = []
    train(tiny_config(epochs=1, quiet=False), log=lines.append)
    assert "epoch 1/1" in "".join(tty.text) and "loss=" in "".join(tty.text)
    assert len(lines) == 1 and lines[0].startswith("epoch 1/1  train_loss")
    tty.text.clear()
    train(tiny_config(epochs=1, quiet=True, out=tiny_config().out + "-q"), log=lines.append)
    assert tty.text == [] and len(lines) == 1


def test_a_directory_with_a_run_is_refused_without_overwrite(tiny_config, tmp_path):
    train(tiny_config(epochs=1))
    out = tmp_path / "run"
    before = (out / "last.pt").read_bytes()
    with pytest.raises(TrainError, match=r"already holds a training run \(metrics.jsonl, "
                       r"last.pt, best.pt, config.json\); continue it with --resume"):
        train(tiny_config(epochs=1, seed=5))
    assert (out / "last.pt").read_bytes() == before  # untouched
    with pytest.raises(TrainError, match="give one of them"):
        train(tiny_config(epochs=1, resume=True, overwrite=True))


def test_overwrite_replaces_only_the_run_files(tiny_config, tmp_path, monkeypatch):
    train(tiny_config(epochs=2))
    out = tmp_path / "run"
    (out / "notes.txt").write_text("mine")
    (out / "curves.png").write_bytes(b"png")
    real_epoch = trainer.train_epoch

    def stop_at_1(run, epoch):
        raise KeyboardInterrupt

    # interrupted before its first epoch: the old run's files are gone, nothing new is saved
    monkeypatch.setattr(trainer, "train_epoch", stop_at_1)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(epochs=1, seed=5, overwrite=True))
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "curves.png",
                                                      "metrics.jsonl", "notes.txt"]
    monkeypatch.setattr(trainer, "train_epoch", real_epoch)
    with pytest.raises(TrainError, match=r"stopped before its first epoch finished; start it "
                       "again with --overwrite"):
        train(tiny_config(epochs=1, seed=5, resume=True))
    records = train(tiny_config(epochs=1, seed=5, overwrite=True))
    assert _strip_time(_records(out)) == _strip_time(records)
    assert read_checkpoint(out / "last.pt")["config"]["seed"] == 5
    assert (out / "notes.txt").read_text() == "mine" and (out / "curves.png").exists()


def test_ctrl_c_reports_the_saved_epoch_and_the_resume_command(tiny_config, monkeypatch):
    real_epoch = trainer.train_epoch

    def stop_at_2(run, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(run, epoch)

    monkeypatch.setattr(trainer, "train_epoch", stop_at_2)
    config = tiny_config(epochs=3)
    with pytest.raises(trainer.TrainInterrupted) as info:
        train(config)
    stop = info.value
    assert isinstance(stop, KeyboardInterrupt)
    assert stop.epoch == 1 and stop.epochs == 3
    assert stop.checkpoint == Path(config.out) / "last.pt"
    assert read_checkpoint(stop.checkpoint)["epoch"] == 1
    assert stop.command == f"bnnflow train --out {config.out} --resume --threads 1"
    report = stop.report()
    assert f"{config.out}/last.pt holds epoch 1 of 3; epoch 2 was cut short" in report
    assert report.endswith(f"Resume with: {stop.command}")
    assert not list(Path(config.out).glob("*.tmp"))


def test_ctrl_c_while_saving_leaves_a_consistent_run(tiny_config, tmp_path, monkeypatch):
    """Interrupted between best.pt and last.pt: last.pt holds the previous epoch and the
    resumed run equals an uninterrupted one."""
    full = train(tiny_config(out=str(tmp_path / "full"), epochs=2))
    real_save = trainer.ckpt_mod.save_atomic

    def save(state, path):
        if Path(path).name == "last.pt" and state["epoch"] == 2:
            raise KeyboardInterrupt
        real_save(state, path)

    monkeypatch.setattr(trainer.ckpt_mod, "save_atomic", save)
    with pytest.raises(trainer.TrainInterrupted) as info:
        train(tiny_config(epochs=2))
    assert info.value.epoch == 1
    monkeypatch.undo()
    out = tmp_path / "run"
    assert read_checkpoint(out / "last.pt")["epoch"] == 1
    assert [r["epoch"] for r in _records(out)] == [1, 2]  # line 2 is dropped on resume
    assert _strip_time(train(tiny_config(epochs=2, resume=True))) == _strip_time(full[1:])
    assert _strip_time(_records(out)) == _strip_time(full)


def test_resume_with_more_epochs_extends_a_finished_run(tiny_config, tmp_path):
    logs: list[str] = []
    train(tiny_config(epochs=2))
    extended = train(tiny_config(epochs=3, resume=True, quiet=False), log=logs.append)
    assert [r["epoch"] for r in extended] == [3]
    assert logs[0].startswith(f"extending {tmp_path / 'run'} from 2 to 3 epochs: resuming at "
                              "epoch 3 of 3")
    assert "lr schedule is recomputed over 3 epochs" in logs[0]
    out = tmp_path / "run"
    assert [r["epoch"] for r in _records(out)] == [1, 2, 3]
    last = read_checkpoint(out / "last.pt")
    assert last["epoch"] == 3 and last["config"]["epochs"] == 3
    assert json.loads((out / "config.json").read_text())["epochs"] == 3
    # the lr of epoch 3 follows the 3-epoch cosine schedule, not the finished 2-epoch one
    steps = last["scheduler_state"]["last_epoch"] // 3
    from bnnflow.train.recipe import lr_factor

    assert extended[0]["lr"] == pytest.approx(2e-3 * lr_factor(3 * steps - 1, 3 * steps, 0,
                                                               "cosine"))
    with pytest.raises(TrainError, match=r"--epochs 2: .* already holds 3 epochs; to train "
                       r"further give more than 3"):
        train(tiny_config(epochs=2, resume=True))



@pytest.mark.slow
def test_ddp_resume_in_the_middle_of_an_epoch_is_exact(tmp_path):
    """2 gloo processes killed at step 9 of epoch 2 (step checkpoint at step 8), resumed:
    metrics and weights equal those of the uninterrupted 2-process run."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "OMP_NUM_THREADS": "1"}

    def torchrun(out, *extra, kill_at=0):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "bnnflow.cli.main", "train", "--out", str(out),
               "--threads", "1", "--quiet", *extra]
        return subprocess.run(cmd, env={**env, "TINY_KILL_AT": str(kill_at)},
                              capture_output=True, text=True, timeout=300)

    args = ("--model", "tests.train.tinymodels:tiny_killable", "--epochs", "2",
            "--batch-size", "128", "--seed", "3", "--device", "cpu")
    assert torchrun(tmp_path / "full", *args).returncode == 0
    killed = torchrun(tmp_path / "part", *args, "--save-every-steps", "4", kill_at=21)
    assert killed.returncode != 0
    assert "holds epoch 1 of 2 and 8 steps of epoch 2" in killed.stderr
    saved = read_checkpoint(tmp_path / "part" / "last.pt")
    assert saved["partial"]["step"] == 8 and len(saved["partial"]["aug_states"]) == 2
    resumed = torchrun(tmp_path / "part", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _strip_time(_records(tmp_path / "part")) == _strip_time(_records(tmp_path / "full"))
    a, b = (read_checkpoint(tmp_path / d / "last.pt") for d in ("full", "part"))
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
