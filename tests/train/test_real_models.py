"""The trainer with the real bnnflow.models digits networks (stage 1 → stage 2 → load)."""

import json

import pytest
import torch

from bnnflow.models import build
from bnnflow.nn import BinaryConv2d, Int8Point
from bnnflow.train.checkpoint import load_model
from bnnflow.train.modelspec import ModelError, build_model
from bnnflow.train.recipe import param_groups
from bnnflow.train.trainer import TrainConfig, train


def _config(tmp_path, name, **kw):
    fields = {"model": "ftbnn_small", "out": str(tmp_path / name), "epochs": 1, "quiet": True,
              "threads": 1, "seed": 1}
    fields.update(kw)
    return TrainConfig(**fields)


def test_binary_latent_weights_of_ftbnn_small():
    model = build("ftbnn_small")
    groups = {g["name"]: {id(p) for p in g["params"]} for g in param_groups(model, 1e-5)}
    binary = {id(m.weight) for m in model.modules() if isinstance(m, BinaryConv2d)}
    assert binary and groups["binary_latent"] == binary
    assert groups["binary_latent"].isdisjoint(groups["real_weights"])


def test_unknown_model_lists_the_registry():
    with pytest.raises(ModelError, match=r"unknown model 'resnet'; available: .*ftbnn_small"):
        build_model("resnet", {})


def test_stage1_then_stage2_then_load(tmp_path):
    s1 = train(_config(tmp_path, "s1", batch_size=128))
    assert s1[-1]["test_acc"] > 0.3  # chance is 0.1
    s2 = train(_config(tmp_path, "s2", stage=2, init=str(tmp_path / "s1" / "last.pt"),
                       calib_batches=2, batch_size=128))
    model, info = load_model(tmp_path / "s2" / "last.pt")
    assert info["stage"] == 2 and info["int8"] == {"enabled": True, "frozen": True}
    points = [m for m in model.modules() if isinstance(m, Int8Point)]
    assert points and all(m.mode == "frozen" and float(m.scale) > 0 for m in points)
    config = json.loads((tmp_path / "s2" / "config.json").read_text())
    assert 0.0 <= config["calibration"]["test_acc"] <= 1.0

    from bnnflow.train.data import load_digits
    from bnnflow.train.trainer import predict

    test = load_digits().test
    acc = float((predict(model, test) == test.labels).float().mean())
    assert acc == pytest.approx(s2[-1]["test_acc"])  # the checkpoint is the evaluated model
    with torch.no_grad():
        x, _ = test.fetch(torch.arange(4))
        assert torch.equal(model(x), model(x))


@pytest.mark.slow
def test_digits_ftbnn_small_30_epochs_and_stage2(tmp_path):
    """The acceptance run: ≥ 0.90 after 30 epochs; stage 2 within 1 point of it."""
    s1 = train(_config(tmp_path, "s1", epochs=30, seed=0))[-1]["test_acc"]
    assert s1 >= 0.90
    s2 = train(_config(tmp_path, "s2", epochs=10, seed=0, stage=2,
                       init=str(tmp_path / "s1" / "last.pt")))[-1]["test_acc"]
    assert s2 >= s1 - 0.01
