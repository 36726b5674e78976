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
    with pytest.raises(CheckpointError, match=r"'.*junk.pt' is not a PyTorch checkpoint: it "
                       r"starts with b'not a ch'"):
        read_checkpoint(tmp_path / "junk.pt")
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(CheckpointError, match=r"cut.pt' cannot be read \(corrupt or "
                       r"truncated\?\): RuntimeError: PytorchStreamReader"):
        read_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a bnnflow checkpoint"):
        read_checkpoint(tmp_path / "other.pt")


def test_files_that_are_not_checkpoints_say_what_they_are(tmp_path):
    """A .bnn, a run directory, a plain pickle, a pickle of objects: no unpickling error."""
    import pickle

    import numpy as np

    from bnnflow.format import save
    from bnnflow.graph.examples import tiny_int8_model

    save(tmp_path / "m.bnn", *tiny_int8_model(np.random.default_rng(0)))
    with pytest.raises(CheckpointError, match=r"m.bnn' is a .bnn model \(safetensors\), not a "
                       r"training checkpoint: run it with `bnnflow run "):
        read_checkpoint(tmp_path / "m.bnn")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"is a directory, not a checkpoint \(a training "
                       r"run: give '.*run/last.pt'\)"):
        read_checkpoint(tmp_path / "run")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(CheckpointError, match="is a pickle but not a PyTorch checkpoint"):
        read_checkpoint(tmp_path / "plain.pkl")
    torch.save({"a": CheckpointError("x")}, tmp_path / "code.pt")  # an object: refused
    with pytest.raises(CheckpointError, match=r"is a pickle that torch.load\(weights_only=True"
                       r"\) refuses \(.*\), not a checkpoint written by `bnnflow train`"):
        read_checkpoint(tmp_path / "code.pt")


def test_a_successful_save_removes_temps_of_killed_saves(tmp_path):
    target = tmp_path / "last.pt"
    stale = [tmp_path / ".last.pt.k1ll3d.tmp", tmp_path / ".last.pt.x.tmp"]
    for f in stale:
        f.write_bytes(b"PK half a checkpoint")
    other = tmp_path / ".best.pt.abc.tmp"  # another file's temp: not this save's business
    other.write_bytes(b"x")
    save_atomic({"a": 1}, target)
    assert target.is_file() and not any(f.exists() for f in stale) and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.pt.abc.tmp", "last.pt"]
