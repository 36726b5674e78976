"""The two-step schedule (``--two-step``): both steps in one run, equal to the steps run by
hand, resume in either step, the CLI, the plot, and the refusals."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bnnflow.cli.main import main
from bnnflow.train import ModelError, trainer, twostep
from bnnflow.train.checkpoint import load_model, read_checkpoint
from bnnflow.train.plot import load_runs
from bnnflow.train.report import read_run
from bnnflow.train.trainer import TrainError, train

from .conftest import ROOT
from .test_trainer import _records, _strip_time


def _same_weights(a: Path, b: Path) -> None:
    sa, sb = read_checkpoint(a)["model_state"], read_checkpoint(b)["model_state"]
    assert sa.keys() == sb.keys()
    for key, value in sa.items():
        assert torch.equal(value, sb[key]), key


def test_two_step_equals_the_two_steps_run_by_hand(tiny_config, tmp_path):
    """Step 1 = a --real-weights run; step 2 = a stage-1 run --init step1/last.pt (fresh
    optimizer and schedule); the real-weight mode changes the training."""
    config = tiny_config(out=str(tmp_path / "ts"), epochs=4, two_step=True)
    records = train(config)
    out = Path(config.out)
    plan = json.loads((out / "two_step.json").read_text())
    assert (plan["step1_epochs"], plan["step2_epochs"]) == (2, 2)
    assert [r["epoch"] for r in records] == [1, 2, 1, 2]

    by_hand1 = tiny_config(out=str(tmp_path / "h1"), epochs=2, real_weights=True)
    train(by_hand1)
    by_hand2 = tiny_config(out=str(tmp_path / "h2"), epochs=2, init=str(out / "step1/last.pt"))
    train(by_hand2)
    assert _strip_time(_records(out / "step1")) == _strip_time(_records(tmp_path / "h1"))
    assert _strip_time(_records(out / "step2")) == _strip_time(_records(tmp_path / "h2"))
    _same_weights(out / "step2" / "last.pt", tmp_path / "h2" / "last.pt")

    binary = train(tiny_config(out=str(tmp_path / "b"), epochs=2))
    assert _strip_time(binary) != _strip_time(records[:2])
    s1, s2 = read_checkpoint(out / "step1/last.pt"), read_checkpoint(out / "step2/last.pt")
    assert s1["config"]["real_weights"] and not s2["config"]["real_weights"]
    assert s2["config"]["init"] == str(out / "step1" / "last.pt")
    # a fresh optimizer in step 2: Adam's step count covers step 2's steps only
    steps = s1["scheduler_state"]["last_epoch"]
    assert s2["scheduler_state"]["last_epoch"] == steps
    assert all(int(st["step"]) == steps for st in s2["optimizer_state"]["state"].values())
    # the step-1 checkpoint evaluates in real-weight mode, as trained
    model, info = load_model(out / "step1/last.pt")
    assert info["real_weights"] and model.binary.real_weights
    assert not load_model(out / "step2/last.pt")[0].binary.real_weights


def _interrupt_at(monkeypatch, call: int) -> None:
    """Ctrl-C at the ``call``-th epoch trained (counted over both steps)."""
    real = trainer.train_epoch
    calls = []

    def stop(run, epoch):
        calls.append(epoch)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(run, epoch)

    monkeypatch.setattr(trainer, "train_epoch", stop)


@pytest.mark.parametrize(("call", "step"), [(2, 1), (4, 2)])
def test_interrupted_two_step_run_resumes_exactly(tiny_config, tmp_path, monkeypatch, call,
                                                  step):
    """Ctrl-C in epoch 2 of step 1 or of step 2; `--two-step --resume` finishes both steps
    as an uninterrupted run would."""
    full = tiny_config(out=str(tmp_path / "full"), epochs=4, two_step=True)
    train(full)
    part = tiny_config(out=str(tmp_path / "part"), epochs=4, two_step=True)
    _interrupt_at(monkeypatch, call)
    with pytest.raises(twostep.TwoStepInterrupted) as info:
        train(part)
    monkeypatch.undo()
    report = info.value.report()
    assert f"step {step} of 2" in report and "holds epoch 1 of 2" in report
    assert info.value.command == f"bnnflow train --out {part.out} --two-step --resume --threads 1"
    resumed = train(replace(part, resume=True))
    assert [r["epoch"] for r in resumed] == ([2, 1, 2] if step == 1 else [2])
    for sub in ("step1", "step2"):
        assert _strip_time(_records(tmp_path / "part" / sub)) == _strip_time(
            _records(tmp_path / "full" / sub))
        _same_weights(tmp_path / "part" / sub / "last.pt", tmp_path / "full" / sub / "last.pt")


def test_interrupt_before_step2_saved_anything(tiny_config, tmp_path, monkeypatch):
    """Ctrl-C in step 2's first epoch: resume starts step 2 afresh from step 1."""
    part = tiny_config(out=str(tmp_path / "p"), epochs=3, two_step=True, step1_epochs=2)
    _interrupt_at(monkeypatch, 3)
    with pytest.raises(twostep.TwoStepInterrupted) as info:
        train(part)
    monkeypatch.undo()
    assert "step 2 of 2: interrupted before the first epoch" in info.value.report()
    assert "step1/last.pt holds step 1, finished" in info.value.report()
    assert [r["epoch"] for r in train(replace(part, resume=True))] == [1]
    assert len(_records(tmp_path / "p" / "step2")) == 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"stage": 2, "init": "x"}, "--two-step trains stage 1 from scratch"),
    ({"real_weights": True}, "does not combine with"),
    ({"epochs": 1}, "--epochs of at least 2"),
    ({"step1_epochs": 4}, r"--step1-epochs must be in \[1, --epochs - 1\] = \[1, 3\]"),
])
def test_bad_two_step_configs(tiny_config, overrides, message):
    with pytest.raises(TrainError, match=message):
        train(tiny_config(**{"two_step": True, "epochs": 4, **overrides}))


def test_other_refusals(tiny_config, tmp_path):
    with pytest.raises(TrainError, match="--step1-epochs sets the length of step 1"):
        train(tiny_config(step1_epochs=1))
    with pytest.raises(TrainError, match="--real-weights is step 1"):
        train(tiny_config(real_weights=True, stage=2, init=__file__))
    with pytest.raises(ModelError, match="has no layer with a real-weight mode"):
        train(tiny_config(real_weights=True, model="ftbnn_small_float"))
    config = tiny_config(out=str(tmp_path / "ts"), epochs=2, two_step=True)
    train(config)
    with pytest.raises(TrainError, match=r"already holds a training run \(two_step.json, "):
        train(config)
    with pytest.raises(TrainError, match="planned 1 epochs for step 1"):
        train(replace(config, resume=True, epochs=4, step1_epochs=2))
    with pytest.raises(TrainError, match="holds no two-step run"):
        train(replace(config, out=str(tmp_path / "none"), resume=True))
    with pytest.raises(TrainError, match="stage 2 starts from step 2"):
        train(tiny_config(out=str(tmp_path / "s2"), stage=2,
                          init=str(tmp_path / "ts" / "step1" / "last.pt")))


def test_cli_two_step_with_a_zoo_model_plot_report_export(tmp_path, monkeypatch, capsys):
    """`bnnflow train --two-step` on ftbnn_small (BinaryConv2d in real-weight mode), resume
    with more epochs, then eval, plot and report see both steps; export refuses step 1."""
    monkeypatch.chdir(tmp_path)
    common = ["--threads", "1", "--batch-size", "256", "--quiet"]
    assert main(["train", "--model", "ftbnn_small", "--model-arg", "width=0.25",
                 "--two-step", "--epochs", "2", "--out", "ts", *common]) == 0
    assert main(["train", "--out", "ts", "--resume", "--epochs", "3", *common]) == 0
    assert [len(_records(Path("ts", s))) for s in ("step1", "step2")] == [1, 2]
    model, info = load_model("ts/step1/last.pt")
    assert info["real_weights"] and model.blocks[0].conv.real_weights
    capsys.readouterr()
    assert main(["eval", "ts/step1/last.pt"]) == 0
    acc = _records(Path("ts/step1"))[-1]["test_acc"]
    assert f"accuracy {acc:.4f}" in capsys.readouterr().out
    assert main(["export", "ts/step1/last.pt", "-o", "s1.bnn", "--dataflow", "float"]) == 2
    assert "step-1 checkpoint of the two-step schedule" in capsys.readouterr().err
    runs = load_runs(["ts"])
    assert [r.path.name for r in runs] == ["step1", "step2"]
    assert runs[1].offset == 1 and runs[1].parent == 0
    assert main(["plot", "ts", "-o", "curves.png"]) == 0 and Path("curves.png").stat().st_size
    result = read_run("ts", 0, "ts")
    assert result.epochs == 3 and result.test_acc == _records(Path("ts/step2"))[-1]["test_acc"]


@pytest.mark.slow
def test_two_step_under_torchrun_keeps_one_process_group(tmp_path):
    """2 gloo processes run both steps: joining a second process group in the same process
    hangs under torchrun, so the steps share one (distributed.hold_group)."""
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "bnnflow.cli.main", "train", "--model", "tests.train.tinymodels:tiny",
           "--two-step", "--epochs", "2", "--batch-size", "128", "--out", str(out),
           "--device", "cpu"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for sub in ("step1", "step2"):
        assert len(_records(out / sub)) == 1
        assert json.loads((out / sub / "config.json").read_text())["world_size"] == 2
    assert proc.stdout.count("step 2: starting from") == 1  # only rank 0 prints


@pytest.mark.parametrize("plan", [
    '{"format": "bnnflow-two-step"}',
    '{"format": "bnnflow-two-step", "config": [], "step1_epochs": 1}',
    '{"format": "bnnflow-two-step", "config": {}, "step1_epochs": "1"}',
])
def test_damaged_plan_is_named(tmp_path, plan: str) -> None:
    """A plan without its config or split is a TrainError naming the file (the CLI's
    ``--resume`` read ``plan["config"]`` and raised a bare KeyError)."""
    from bnnflow.train.twostep import read_plan

    (tmp_path / "two_step.json").write_text(plan)
    with pytest.raises(TrainError, match=r"two_step.json'?: the plan has no 'config' object"):
        read_plan(tmp_path)
