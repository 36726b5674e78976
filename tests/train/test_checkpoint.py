import pytest
import torch

from bnnflow.train import checkpoint
from bnnflow.train.checkpoint import CheckpointError, load_model, read_checkpoint, save_atomic
from bnnflow.train.trainer import train


def test_save_atomic_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_atomic({"a": torch.ones(2)}, path)

    def broken_save(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"a": torch.zeros(2)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_load_model_rebuilds_in_eval_mode(tiny_config):
    config = tiny_config(epochs=1)
    train(config)
    model, info = load_model(f"{config.out}/last.pt")
    assert not model.training
    assert info["name"] == config.model and info["stage"] == 1 and info["epoch"] == 1
    assert info["kwargs"] == {"num_classes": 10, "in_channels": 1}
    assert info["int8"] == {"enabled": False, "frozen": False}
    assert info["data"]["spec"] == "digits" and info["data"]["test_size"] == 360
    saved = read_checkpoint(f"{config.out}/last.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved["model_state"][key])
    assert set(saved) >= {"optimizer_state", "scheduler_state", "rng", "config", "epoch"}


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a bnnflow checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
