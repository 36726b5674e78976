"""Training checkpoints: atomic save, load, and rebuilding the model they hold.

A checkpoint is a ``torch.save`` dict read back with ``weights_only=True`` (tensors,
numbers, strings, lists, dicts only — no code is unpickled):

| key | content |
|---|---|
| ``format`` / ``version`` | ``"bnnflow-checkpoint"`` / 1 |
| ``model`` | ``{"name": str, "kwargs": dict}`` — rebuilt with ``bnnflow.models.build`` |
| ``model_state`` | ``state_dict()`` of the (unwrapped) model |
| ``stage`` | 1 (binary net, float glue) or 2 (BNN-Clip int8 fine-tune) |
| ``int8`` | ``{"enabled": bool, "frozen": bool}``: whether ``enable_int8`` / ``freeze_int8`` ran |
| ``epoch`` | epochs completed |
| ``optimizer_state``, ``scheduler_state`` | to resume |
| ``rng`` | ``{"torch": ByteTensor}`` — the global torch RNG after the epoch |
| ``config`` | the training configuration (what ``config.json`` holds) |
| ``data`` | the data set summary (spec, classes, image size, split sizes) |
| ``metrics`` | the last epoch's metrics record; ``best_acc``, ``best_epoch`` |
| ``bnnflow_version`` | the producer |

Files are written to a temporary file in the same directory, flushed, fsynced and moved over
the target with ``os.replace``: an interrupted run always leaves the previous complete file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from bnnflow.train import modelspec

FORMAT = "bnnflow-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not a bnnflow checkpoint."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a checkpoint dict (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {err}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a bnnflow checkpoint")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has version {ckpt.get('version')}, expected {VERSION}"
        )
    return ckpt


def restore_model(
    name: str, kwargs: dict[str, Any], int8: dict[str, bool], state: dict[str, Any],
    what: str = "checkpoint",
) -> torch.nn.Module:
    """Build the model, re-create its int8 structure, load ``state``, re-freeze if recorded.

    The int8 modes and scales themselves travel in the state dict (``enable_int8`` only
    restores the structure, e.g. the clipping blocks); ``freeze_int8`` after loading is a
    check that nothing is left observing.
    """
    model = modelspec.build_model(name, kwargs)
    if int8.get("enabled"):
        modelspec.enable_int8(model)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{what} does not fit model {name!r}: {err}") from err
    if int8.get("enabled") and int8.get("frozen"):
        modelspec.freeze_int8(model)
    return model


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of checkpoint ``path`` in eval mode on the CPU.

    Returns ``(model, info)``; ``info`` has ``name``, ``kwargs``, ``stage``, ``int8``,
    ``epoch``, ``data`` (spec, num_classes, in_channels, image_size, class_names), ``metrics``
    and ``config``.
    """
    ckpt = read_checkpoint(path)
    name, kwargs = ckpt["model"]["name"], dict(ckpt["model"]["kwargs"])
    int8 = dict(ckpt.get("int8", {"enabled": False, "frozen": False}))
    model = restore_model(name, kwargs, int8, ckpt["model_state"], f"checkpoint {str(path)!r}")
    model.eval()
    info = {
        "name": name,
        "kwargs": kwargs,
        "stage": int(ckpt["stage"]),
        "int8": int8,
        "epoch": int(ckpt["epoch"]),
        "data": ckpt.get("data", {}),
        "metrics": ckpt.get("metrics", {}),
        "config": ckpt.get("config", {}),
        "path": str(path),
    }
    return model, info
