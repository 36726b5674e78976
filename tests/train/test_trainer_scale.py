"""The trainer at scale, on the CPU: mixed precision, channels_last, SGD, label smoothing,
throughput metrics, mid-epoch checkpoints with exact resume, metrics repair, state_dict
teachers (a bnnflow twin, a torchvision-named ResNet-18), torch.compile (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tests.models.test_resnet import TORCHVISION_RESNET18_KEYS
from tests.train.tinymodels import tiny

from bnnflow import models
from bnnflow.train import trainer
from bnnflow.train.checkpoint import load_model, read_checkpoint
from bnnflow.train.data import load_data
from bnnflow.train.trainer import TrainError, TrainInterrupted, train

TIMING = ("seconds", "images_per_s", "data_wait_s", "data_wait_share")


def _records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


@pytest.mark.parametrize("name", ["ftbnn_small", "birealnet_small"])
def test_bf16_autocast_step_of_binary_models_is_finite(name):
    """Binary layers, STEs and BatchNorm under CPU bf16 autocast: ±1 signs, finite grads."""
    torch.manual_seed(0)
    model = models.build(name, num_classes=10, in_channels=1)
    x, y = torch.rand(8, 1, 8, 8) * 240, torch.randint(0, 10, (8,))
    signs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: signs.append(out))
             for m in model.modules() if type(m).__name__ == "SignActivation"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    for h in hooks:
        h.remove()
    assert logits.dtype == torch.bfloat16 and signs
    assert all(bool(((s == 1) | (s == -1)).all()) for s in signs)
    loss = F.cross_entropy(logits.float(), y)
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_bf16_channels_last_sgd_run_records_throughput(tiny_config):
    config = tiny_config(epochs=2, device="cpu", amp="bf16", channels_last=True,
                         optimizer="sgd", momentum=0.9, nesterov=True, lr=0.05,
                         label_smoothing=0.1)
    records = train(config)
    assert all(math.isfinite(r["train_loss"]) for r in records)
    assert records[-1]["test_acc"] > 0.3  # learns (chance 0.1)
    for r in records:
        assert r["images_per_s"] > 0 and 0 <= r["data_wait_share"] <= 1
        assert r["data_wait_s"] >= 0
    saved = read_checkpoint(Path(config.out) / "last.pt")
    assert saved["config"]["amp"] == "bf16" and saved["config"]["optimizer"] == "sgd"
    assert saved["optimizer_state"]["param_groups"][0]["nesterov"] is True
    assert all(v.dtype != torch.bfloat16 for v in saved["model_state"].values())


def test_fp16_grad_scaler_state_is_checkpointed_and_resumed(tiny_config):
    """fp16 autocast on the CPU with a GradScaler: 12 steps per epoch, none skipped."""
    train(tiny_config(epochs=1, device="cpu", amp="fp16"))
    state = read_checkpoint(Path(tiny_config().out) / "last.pt")["scaler_state"]
    assert state["scale"] == 65536.0 and state["_growth_tracker"] == 12
    train(tiny_config(epochs=2, device="cpu", amp="fp16", resume=True))
    state = read_checkpoint(Path(tiny_config().out) / "last.pt")["scaler_state"]
    assert state["_growth_tracker"] == 24  # continued, not restarted


def test_cuda_without_cuda_is_a_train_error(tiny_config):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(TrainError, match="sees no CUDA device"):
        train(tiny_config(device="cuda"))


def test_mid_epoch_resume_equals_an_uninterrupted_run(tiny_config, tmp_path, monkeypatch):
    """Killed at step 10 of epoch 2 (last.pt: epoch 1 + 8 steps), resumed: bit for bit."""
    full = tiny_config(out=str(tmp_path / "full"), epochs=3)  # 12 steps per epoch
    train(full)
    part = tiny_config(out=str(tmp_path / "part"), epochs=3, save_every_steps=4)
    real_step, calls = trainer._train_step, []

    def killed_at_22(run, *args):
        calls.append(1)
        if len(calls) == 23:
            raise KeyboardInterrupt
        return real_step(run, *args)

    monkeypatch.setattr(trainer, "_train_step", killed_at_22)
    with pytest.raises(TrainInterrupted) as stop:
        train(part)
    monkeypatch.undo()
    assert "holds epoch 1 of 3 and 8 steps of epoch 2" in stop.value.report()
    saved = read_checkpoint(tmp_path / "part" / "last.pt")
    assert saved["epoch"] == 1 and saved["partial"]["step"] == 8
    assert saved["scheduler_state"]["last_epoch"] == 20
    resumed = train(tiny_config(out=str(tmp_path / "part"), epochs=3, resume=True,
                                save_every_steps=4))
    assert [r["epoch"] for r in resumed] == [2, 3]
    assert _strip(_records(tmp_path / "part")) == _strip(_records(tmp_path / "full"))
    a, b = (read_checkpoint(tmp_path / d / "last.pt") for d in ("full", "part"))
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    for sa, sb in zip(a["optimizer_state"]["state"].values(),
                      b["optimizer_state"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert b["partial"] is None


def test_resume_repairs_a_cut_metrics_file(tiny_config, tmp_path):
    config = tiny_config(epochs=2)
    train(config)
    metrics = Path(config.out) / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text(lines[0] + "\n" + lines[1][:25])  # epoch 2's line cut off (full disk)
    (Path(config.out) / ".last.pt.dead.tmp").write_bytes(b"PK")  # a killed save's leftover
    train(tiny_config(epochs=3, resume=True))
    repaired = _records(Path(config.out))
    assert [r["epoch"] for r in repaired] == [1, 2, 3]
    assert repaired[1] == json.loads(lines[1])  # restored from last.pt
    assert not (Path(config.out) / ".last.pt.dead.tmp").exists()


def test_repair_metrics_drops_junk_and_later_epochs(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    rec = [json.dumps({"epoch": e, "test_acc": e / 10}) for e in (1, 2, 3)]
    metrics.write_bytes(f"{rec[0]}\n{rec[0]}\n\x00\x00garbage\n{rec[1]}\n{rec[2]}\n{{\"ep".encode())
    changes = trainer.repair_metrics(metrics, 2, None)
    assert metrics.read_text() == f"{rec[0]}\n{rec[1]}\n"
    assert any("unreadable" in c for c in changes) and any("epoch 3" in c for c in changes)
    assert trainer.repair_metrics(metrics, 2, None) == []  # already clean


def test_teacher_given_as_a_plain_state_dict(tiny_config, tmp_path):
    torch.manual_seed(1)
    teacher = tiny(num_classes=10, in_channels=1)
    path = tmp_path / "teacher_state.pt"
    torch.save({"state_dict": teacher.state_dict()}, path)
    config = tiny_config(epochs=1, teacher=str(path),
                         teacher_model="tests.train.tinymodels:tiny", kd_alpha=0.5)
    built = trainer.load_teacher(config, {"num_classes": 10, "in_channels": 1})
    for key, value in teacher.state_dict().items():
        assert torch.equal(built.state_dict()[key], value)
    assert not built.training
    assert len(train(config)) == 1
    wrong = tiny_config(out=str(tmp_path / "w"), epochs=1, teacher=str(path),
                        teacher_model="ftbnn_small_float")
    with pytest.raises(TrainError, match="does not fit --teacher-model 'ftbnn_small_float'"):
        train(wrong)


def test_torchvision_resnet18_state_dict_teacher_distils(tiny_config, tmp_path):
    """A plain state_dict with torchvision's resnet18 keys (no num_batches_tracked, as in
    torchvision's original file) loads strictly as --teacher-model resnet18 and is distilled:
    a teacher that always says "3" (fc weight 0, bias 10 on class 3) with --kd-alpha 1 makes
    the student say "3"."""
    torch.manual_seed(2)
    state = {k: v for k, v in models.resnet18(num_classes=10, in_channels=1).state_dict().items()
             if not k.endswith("num_batches_tracked")}
    assert list(state) == [k for k in TORCHVISION_RESNET18_KEYS
                           if not k.endswith("num_batches_tracked")]
    state["fc.weight"] = torch.zeros(10, 512)
    state["fc.bias"] = torch.zeros(10)
    state["fc.bias"][3] = 10.0
    path = tmp_path / "resnet18-digits.pth"
    torch.save(state, path)
    config = tiny_config(epochs=2, teacher=str(path), teacher_model="resnet18", kd_alpha=1.0,
                         lr=0.02)
    teacher = trainer.load_teacher(config, {"num_classes": 10, "in_channels": 1})
    data = load_data("digits")
    assert bool((trainer.predict(teacher, data.test) == 3).all())
    train(config)
    student, _ = load_model(Path(config.out) / "last.pt")
    assert float((trainer.predict(student, data.test) == 3).float().mean()) > 0.9
    wrong = tmp_path / "resnet34.pth"
    torch.save(models.resnet34(num_classes=10, in_channels=1).state_dict(), wrong)
    with pytest.raises(TrainError, match="does not fit --teacher-model 'resnet18'"):
        train(tiny_config(out=str(tmp_path / "w"), teacher=str(wrong), teacher_model="resnet18"))


@pytest.mark.slow
def test_compile_runs_an_epoch(tiny_config):
    records = train(tiny_config(epochs=1, compile=True, device="cpu"))
    assert math.isfinite(records[0]["train_loss"])


def test_imagenet_transforms_in_workers_resume_mid_epoch_exactly(tiny_config, tmp_path,
                                                                  monkeypatch):
    """Mixed-size image folder, RandomResizedCrop decoded in a persistent worker, killed
    after a step checkpoint and resumed: equal to the uninterrupted run."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 10), ("test", 3)):
        for c in range(2):
            folder = tmp_path / "img" / split / f"c{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                w, h = (20 + 3 * i, 14 + 2 * i) if c else (12 + 2 * i, 18 + i)
                pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                pixels[..., c] = 250
                Image.fromarray(pixels).save(folder / f"{i}.png")
    common = {"data": f"imagefolder:{tmp_path / 'img'}", "transforms": "imagenet",
              "image_size": 8, "batch_size": 4, "epochs": 2, "lr": 0.01, "workers": 1}
    train(tiny_config(out=str(tmp_path / "full"), **common))  # 5 steps per epoch
    real_step, calls = trainer._train_step, []

    def killed(run, *args):
        calls.append(1)
        if len(calls) == 8:  # step 3 of epoch 2; last.pt holds epoch 1 + 1 step
            raise KeyboardInterrupt
        return real_step(run, *args)

    part = tiny_config(out=str(tmp_path / "part"), save_every_steps=3, **common)
    monkeypatch.setattr(trainer, "_train_step", killed)
    with pytest.raises(TrainInterrupted):
        train(part)
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "part" / "last.pt")["partial"]["step"] == 1
    train(tiny_config(out=str(tmp_path / "part"), resume=True, save_every_steps=3, **common))
    assert _strip(_records(tmp_path / "part")) == _strip(_records(tmp_path / "full"))
    a, b = (read_checkpoint(tmp_path / d / "last.pt") for d in ("full", "part"))
    assert all(torch.equal(v, b["model_state"][k]) for k, v in a["model_state"].items())
    assert a["data"]["transforms"] == "imagenet"
