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
| ``scaler_state`` | ``torch.amp.GradScaler`` state (``{}`` unless ``--amp fp16``) |
| ``rng`` | ``{"torch": ByteTensor}`` — the global torch RNG (``"cuda"``: the device's, on CUDA;
  ``"ranks"``: under DDP, every rank's ``{"torch", "cuda"}``, restored rank by rank) |
| ``partial`` | ``None`` after an epoch; mid-epoch (``--save-every-steps``): ``{"step", "loss_sum",
  "correct", "count", "seconds", "aug_states"}`` — the steps of epoch ``epoch + 1`` done,
  its running sums and each rank's augmentation generator state |
| ``config`` | the training configuration (what ``config.json`` holds) |
| ``data`` | the data set summary (spec, classes, image size, split sizes) |
| ``metrics`` | the last epoch's metrics record; ``best_acc``, ``best_epoch`` |
| ``bnnflow_version`` | the producer |

Files are written to a temporary file in the same directory, flushed, fsynced and moved over
the target with ``os.replace``: an interrupted run always leaves the previous complete file.
A save killed outright (SIGKILL, power loss) can leave its ``.NAME.XXXX.tmp`` file; the next
successful save of ``NAME`` removes such leftovers.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
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
    remove_stale_temps(path)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temporary files ``.NAME.*.tmp`` that killed saves of ``path`` left behind.

    Called after a successful save (bnnflow trains with one writer per run directory, so
    no other save of ``path`` can be in flight). Returns the files removed.
    """
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def check_file_kind(path: Path) -> str:
    """Raise :class:`CheckpointError` saying what ``path`` is when it cannot be a PyTorch
    checkpoint: missing, a directory (a training run: name its ``last.pt``), a ``.bnn``
    model (safetensors) or a file that is neither a zip archive nor a pickle. Returns the
    kind: ``"zip"`` (what torch.save writes) or ``"pickle"``."""
    from bnnflow.format import file_kind
    from bnnflow.format.container import sniff

    kind = file_kind(path)
    shown = str(path)
    if kind == "missing":
        raise CheckpointError(f"checkpoint {shown!r} does not exist")
    if kind == "directory":
        hint = (f" (a training run: give {str(path / 'last.pt')!r})"
                if (path / "last.pt").is_file() else "")
        raise CheckpointError(f"{shown!r} is a directory, not a checkpoint{hint}")
    if kind == "safetensors":
        raise CheckpointError(
            f"{shown!r} is a .bnn model (safetensors), not a training checkpoint: run it with "
            f"`bnnflow run {shown} IMAGE...` or `bnnflow run {shown} --data SPEC`"
        )
    if kind == "unknown":
        with open(path, "rb") as f:
            head = f.read(8)
        raise CheckpointError(
            f"{shown!r} is not a PyTorch checkpoint: it starts with {head!r}, a checkpoint "
            "written by `bnnflow train` (torch.save) is a zip archive starting with b'PK'"
        )
    with open(path, "rb") as f:
        return sniff(f.read(16))


def _load_error(path: Path, kind: str, err: Exception) -> CheckpointError:
    """A readable :class:`CheckpointError` for a zip/pickle file torch.load refused."""
    shown = str(path)
    if isinstance(err, pickle.UnpicklingError):
        text = str(err)
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip().split("\n")[0]
        detail = detail.split(". ")[0]
        return CheckpointError(
            f"{shown!r} is a pickle that torch.load(weights_only=True) refuses ({detail}), not "
            "a checkpoint written by `bnnflow train` (bnnflow never unpickles code)"
        )
    first = str(err).split(". ")[0].strip()
    if kind == "pickle":
        return CheckpointError(f"{shown!r} is a pickle but not a PyTorch checkpoint: "
                               f"{type(err).__name__}: {first}")
    return CheckpointError(f"checkpoint {shown!r} cannot be read (corrupt or truncated?): "
                           f"{type(err).__name__}: {first}")


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a checkpoint dict (``weights_only=True``).

    Raises:
        CheckpointError: the file is missing, a directory, a ``.bnn`` model, not a PyTorch
            file, unreadable, not a bnnflow checkpoint or of another version; the message
            says which.
    """
    path = Path(path)
    kind = check_file_kind(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error says it
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise _load_error(path, kind, err) from err
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
    ``epoch``, ``data`` (spec, num_classes, in_channels, image_size, class_names), ``metrics``,
    ``config`` and ``real_weights`` (a step-1 checkpoint of the two-step schedule: the binary
    layers are put in real-weight mode, as trained).
    """
    ckpt = read_checkpoint(path)
    name, kwargs = ckpt["model"]["name"], dict(ckpt["model"]["kwargs"])
    int8 = dict(ckpt.get("int8", {"enabled": False, "frozen": False}))
    model = restore_model(name, kwargs, int8, ckpt["model_state"], f"checkpoint {str(path)!r}")
    real_weights = bool(ckpt.get("config", {}).get("real_weights"))
    if real_weights:  # step 1 of the two-step schedule: binary activations, real weights
        modelspec.set_real_weights(model, name)
    model.eval()
    info = {
        "name": name,
        "kwargs": kwargs,
        "stage": int(ckpt["stage"]),
        "int8": int8,
        "epoch": int(ckpt["epoch"]),
        "data": ckpt.get("data", {}),
        "metrics": ckpt.get("metrics") or {},
        "config": ckpt.get("config", {}),
        "real_weights": real_weights,
        "path": str(path),
    }
    return model, info
