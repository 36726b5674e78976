"""The trainer: the two-stage BNN-Clip recipe, per-epoch checkpoints, exact resume, DDP.

Stage 1 trains the binary network with float glue. Stage 2 starts from a stage-1 checkpoint
(``init``), calls ``enable_int8`` (clipping blocks, fake-quant points observing), calibrates
the int8 scales on ``calib_batches`` un-augmented training batches in eval mode, **freezes the
scales** and fine-tunes with the fake-quant forward active. Freezing before fine-tuning (rather
than letting the observers keep moving) means the network learns around the very scales the
engine will use, and the checkpoint after every epoch is already the deployable int8 model.

Reproducibility: the model is initialised after ``torch.manual_seed(seed)``; the data order of
epoch ``e`` is ``randperm`` seeded with ``seed + e`` (``DistributedSampler``'s), sharded over
the ranks without duplicates (:func:`bnnflow.train.distributed.shard_batches`); the batch
augmentation of epoch ``e`` on rank ``r`` comes from a generator seeded with ``(seed, e, r)``
and the decode-time augmentation (ImageNet transforms) of step ``k`` from a seed of
``(seed, e, r, k)``. A checkpoint (after an epoch, or every ``save_every_steps`` optimizer
steps in the middle of one) stores the model, optimizer, scheduler, GradScaler, global torch
RNG, the step reached in the epoch, every rank's augmentation generator state and the
epoch's running loss/accuracy sums, so resuming
replays the rest exactly as an uninterrupted run would (on the CPU, same thread count and
world size).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import bnnflow
from bnnflow.train import checkpoint as ckpt_mod
from bnnflow.train import distributed, modelspec, recipe
from bnnflow.train.augment import augment_batch
from bnnflow.train.data import ImageData, Split, load_data

DEFAULT_LR = {1: 2e-3, 2: 2e-4}
# Fields that must match between a run and the checkpoint it resumes.
RESUME_FIELDS = (
    "model", "model_kwargs", "data", "image_size", "epochs", "stage", "init", "seed", "lr",
    "batch_size", "schedule", "warmup_epochs", "weight_decay", "teacher", "kd_alpha",
    "kd_temperature", "calib_batches", "augment", "transforms", "optimizer", "momentum",
    "nesterov", "label_smoothing", "teacher_model", "real_weights",
)
AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# The files that make a directory a training run (``--overwrite`` removes exactly these).
RUN_FILES = ("metrics.jsonl", "last.pt", "best.pt", "config.json")


class TrainError(ValueError):
    """A training configuration that cannot run (user error)."""


class TrainInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`, with what was saved and how to resume.

    A ``KeyboardInterrupt``: callers that do not catch it stop as on any Ctrl-C.
    ``epoch`` is the epoch ``checkpoint`` holds (``None``: no checkpoint of this run);
    ``command`` is the command line that resumes it (``None``: nothing to resume).
    """

    def __init__(self, out: Path, checkpoint: Path | None, epoch: int | None, epochs: int,
                 command: str | None, is_main: bool = True, step: int = 0) -> None:
        super().__init__(f"training of {out} interrupted")
        self.out, self.checkpoint, self.epoch, self.epochs = out, checkpoint, epoch, epochs
        self.command, self.is_main, self.step = command, is_main, step

    def report(self) -> str:
        """What was saved and the command that resumes (or restarts) the run."""
        if self.checkpoint is None:
            return (f"interrupted before the first epoch of {self.out} finished: no checkpoint "
                    f"was saved, there is nothing to resume.\nStart again with "
                    f"{self.command}")
        if self.epoch is None:
            return (f"interrupted while resuming: {self.checkpoint} is unchanged.\nResume "
                    f"with: {self.command}")
        if self.step:
            return (f"interrupted: {self.checkpoint} holds epoch {self.epoch} of "
                    f"{self.epochs} and {self.step} steps of epoch {self.epoch + 1}; resuming "
                    f"continues from that step.\nResume with: {self.command}")
        lost = (f"; epoch {self.epoch + 1} was cut short and will be trained again"
                if self.epoch < self.epochs else "")
        return (f"interrupted: {self.checkpoint} holds epoch {self.epoch} of {self.epochs}"
                f"{lost}.\nResume with: {self.command}")


@dataclass
class TrainConfig:
    """Everything that defines a run (stored in ``config.json`` and every checkpoint)."""

    model: str
    out: str
    data: str = "digits"
    epochs: int = 30
    stage: int = 1
    init: str | None = None
    seed: int = 0
    lr: float | None = None  # None: 2e-3 for stage 1, 2e-4 for stage 2
    batch_size: int = 64  # global: split evenly over the processes
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    weight_decay: float = 5e-6
    teacher: str | None = None
    teacher_model: str | None = None  # --teacher is then a plain state_dict of this model
    kd_alpha: float = 0.5
    kd_temperature: float = 4.0
    calib_batches: int = 8
    augment: bool = True
    image_size: int | None = None
    transforms: str = "resize"  # imagefolder: "resize" or "imagenet"
    optimizer: str = "adam"
    momentum: float = 0.9  # sgd
    nesterov: bool = False  # sgd
    label_smoothing: float = 0.0
    device: str = "auto"
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    save_every_steps: int = 0  # 0: checkpoints after every epoch only
    sync_bn: bool = False
    real_weights: bool = False  # binary layers use real weights (two-step schedule, step 1)
    two_step: bool = False  # run step 1 and step 2 into out/step1, out/step2 (train_two_step)
    step1_epochs: int | None = None  # two_step: epochs of step 1 (default epochs // 2)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    overwrite: bool = False  # replace the run files of ``out`` (see RUN_FILES)
    quiet: bool = False
    workers: int = 0
    threads: int | None = None  # torch intra-op threads; None: torch's default

    def base_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.stage]

    def validate(self) -> None:
        """Raise :class:`TrainError` for values that cannot work."""
        if self.epochs < 1:
            raise TrainError(f"--epochs must be at least 1, got {self.epochs}")
        if self.resume and self.overwrite:
            raise TrainError("--resume continues the run in --out and --overwrite replaces "
                             "it; give one of them")
        if self.stage not in (1, 2):
            raise TrainError(f"--stage must be 1 or 2, got {self.stage}")
        if self.stage == 2 and not self.init:
            raise TrainError("--stage 2 needs --init CKPT (a stage-1 checkpoint)")
        if self.batch_size < 1:
            raise TrainError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.lr is not None and not self.lr > 0:
            raise TrainError(f"--lr must be positive, got {self.lr}")
        if self.schedule not in recipe.SCHEDULES:
            raise TrainError(f"--schedule must be one of {', '.join(recipe.SCHEDULES)}")
        if not 0.0 <= self.kd_alpha <= 1.0:
            raise TrainError(f"--kd-alpha must be in [0, 1], got {self.kd_alpha}")
        if self.kd_temperature <= 0:
            raise TrainError(f"--kd-temperature must be positive, got {self.kd_temperature}")
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise TrainError(f"--warmup-epochs must be in [0, --epochs], got {self.warmup_epochs}")
        self._validate_recipe()
        self._validate_two_step()
        if self.calib_batches < 1:
            raise TrainError(f"--calib-batches must be at least 1, got {self.calib_batches}")
        if self.image_size is not None and self.image_size < 1:
            raise TrainError(f"--image-size must be positive, got {self.image_size}")
        for name in ("init", "teacher"):
            value = getattr(self, name)
            if value and not Path(value).is_file():
                raise TrainError(f"--{name} checkpoint {value!r} does not exist")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise TrainError(f"--out {self.out!r} is an existing file, not a directory; "
                             "give a directory for the run's files")

    def _validate_recipe(self) -> None:
        """The options of the optimizer, precision, device and checkpointing."""
        if self.optimizer not in recipe.OPTIMIZERS:
            raise TrainError(f"--optimizer must be one of {', '.join(recipe.OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise TrainError(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise TrainError("--nesterov needs --optimizer sgd with a positive --momentum")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise TrainError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.amp not in AMP_DTYPES:
            raise TrainError(f"--amp must be one of {', '.join(AMP_DTYPES)}, got {self.amp!r}")
        if self.device not in distributed.DEVICES:
            raise TrainError(f"--device must be one of {', '.join(distributed.DEVICES)}, "
                             f"got {self.device!r}")
        if self.save_every_steps < 0:
            raise TrainError(f"--save-every-steps must be ≥ 0, got {self.save_every_steps}")
        if self.teacher_model and not self.teacher:
            raise TrainError("--teacher-model names the architecture of --teacher FILE; "
                             "give --teacher too")

    def _validate_two_step(self) -> None:
        """The options of the two-step schedule (``--two-step``, ``--real-weights``)."""
        if self.real_weights and self.stage == 2:
            raise TrainError("--real-weights is step 1 of the two-step schedule (stage 1); the "
                             "int8 stage 2 needs binary weights")
        if self.step1_epochs is not None and not self.two_step:
            raise TrainError("--step1-epochs sets the length of step 1 of --two-step; give "
                             "--two-step too")
        if not self.two_step:
            return
        if self.stage != 1 or self.init or self.real_weights:
            raise TrainError("--two-step trains stage 1 from scratch (step 1: real weights, "
                             "step 2: binary weights from step 1); it does not combine with "
                             "--stage 2, --init or --real-weights (the int8 stage 2 follows "
                             "with --stage 2 --init OUT/step2/last.pt)")
        if self.epochs < 2:
            raise TrainError(f"--two-step needs --epochs of at least 2 (both steps), got "
                             f"{self.epochs}")
        k = self.step1_epochs
        if k is not None and not 1 <= k < self.epochs:
            raise TrainError(f"--step1-epochs must be in [1, --epochs - 1] = [1, "
                             f"{self.epochs - 1}], got {k}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    """The live objects of a run."""

    config: TrainConfig
    data: ImageData
    dist: distributed.Dist
    model: torch.nn.Module  # unwrapped
    net: torch.nn.Module  # what the training forward calls (DDP wrapper or the model)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    model_kwargs: dict[str, Any]
    int8: dict[str, bool]
    teacher: torch.nn.Module | None = None
    start_epoch: int = 0
    best_acc: float = -1.0
    best_epoch: int = 0
    calibration: dict[str, Any] | None = None  # stage 2: accuracy right after calibration
    saved_epoch: int | None = None  # the epoch out/last.pt holds (None: no checkpoint yet)
    saved_epochs: int | None = None  # the --epochs recorded in out/last.pt
    saved_step: int = 0  # steps of epoch saved_epoch + 1 that out/last.pt holds
    partial: dict[str, Any] | None = None  # resumed mid-epoch: step reached and running sums
    last_record: dict[str, Any] | None = None  # metrics of the last finished epoch
    scaler: Any = None  # torch.amp.GradScaler (enabled with --amp fp16)
    loader: Any = None  # the persistent DataLoader of the training split (--workers > 0)
    rank_rng: list[dict[str, torch.Tensor]] | None = None  # every rank's RNG (gathered)

    @property
    def out(self) -> Path:
        return Path(self.config.out)


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A well-mixed 63-bit seed for the augmentation generator of (seed, epoch, rank)."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(2, np.uint64)[0] >> 1)


def batch_seed(seed: int, epoch: int, rank: int, step: int) -> int:
    """A well-mixed 63-bit seed for the augmentation of (seed, epoch, rank, step)."""
    state = np.random.SeedSequence([seed, epoch, rank, step]).generate_state(2, np.uint64)
    return int(state[0] >> 1)


def rank_batches(config: TrainConfig, n: int, epoch: int, d: distributed.Dist) -> list[list[int]]:
    """This rank's batches of epoch ``epoch`` (:func:`distributed.shard_batches`)."""
    return distributed.shard_batches(n, config.batch_size, d.world, d.rank, config.seed, epoch)


class BatchFetcher(torch.utils.data.Dataset):
    """Item ``(indices, seed)`` is that batch of ``split`` (decode-time augmentation seed)."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, item: tuple[list[int], int | None]) -> tuple[torch.Tensor, ...]:
        indices, seed = item
        return self.split.fetch(torch.tensor(indices, dtype=torch.int64), seed)


class BatchPlan(torch.utils.data.Sampler):
    """The ``(indices, seed)`` items of the current epoch, replaced before each epoch."""

    def __init__(self) -> None:
        self.items: list[tuple[list[int], int | None]] = []

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[tuple[list[int], int | None]]:
        return iter(self.items)


def make_loader(split: Split, workers: int, pin_memory: bool) -> torch.utils.data.DataLoader:
    """A DataLoader decoding whole batches in ``workers`` persistent processes.

    Its generator is private, so creating an epoch's iterator never draws from the global
    torch RNG (resume stays exact).
    """
    return torch.utils.data.DataLoader(
        BatchFetcher(split), batch_size=None, sampler=BatchPlan(), num_workers=workers,
        pin_memory=pin_memory, persistent_workers=True, generator=torch.Generator())


def iter_batches(split: Split, items: list[tuple[list[int], int | None]],
                 loader: torch.utils.data.DataLoader | None = None) -> Iterator:
    """Fetch ``items`` from ``split`` in order (in ``loader``'s worker processes if given)."""
    if loader is None:
        fetcher = BatchFetcher(split)
        yield from (fetcher[item] for item in items)
        return
    loader.sampler.items = items
    yield from loader


def model_kwargs_for(config: TrainConfig, data: ImageData) -> dict[str, Any]:
    """Builder kwargs: the data set's class and channel counts, then ``--model-arg`` overrides.

    Every builder (``bnnflow.models`` and custom ``module:callable``) takes ``num_classes``
    and ``in_channels``.
    """
    kwargs: dict[str, Any] = {"num_classes": data.num_classes, "in_channels": data.in_channels}
    kwargs.update(config.model_kwargs)
    return kwargs


def calibration_batches(run_data: ImageData, config: TrainConfig) -> list[torch.Tensor]:
    """The first ``calib_batches`` batches of a seeded, un-augmented training permutation."""
    g = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(run_data.train), generator=g)
    bs = config.batch_size
    out = []
    for i in range(config.calib_batches):
        idx = order[i * bs : (i + 1) * bs]
        if idx.numel() == 0:
            break
        out.append(run_data.train.fetch(idx)[0])  # no seed: the evaluation transform
    return out


def _check_compatible(config: TrainConfig, saved: dict[str, Any], what: str) -> None:
    for key in RESUME_FIELDS:
        if key == "epochs":  # may grow: see _check_epochs
            continue
        if key in saved and getattr(config, key) != saved[key]:
            raise TrainError(
                f"--{key.replace('_', '-')} is {getattr(config, key)!r} but {what} was made "
                f"with {saved[key]!r}; resume with the same settings"
            )


def _load_init(config: TrainConfig, kwargs: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    init = ckpt_mod.read_checkpoint(config.init)
    if init["model"]["name"] != config.model:
        raise TrainError(
            f"--init {config.init!r} holds model {init['model']['name']!r}, not {config.model!r}"
        )
    if init.get("int8", {}).get("enabled"):
        raise TrainError(f"--init {config.init!r} is an int8 (stage-2) checkpoint; start "
                         "from a stage-1 checkpoint")
    if config.stage == 2 and init.get("config", {}).get("real_weights"):
        raise TrainError(f"--init {config.init!r} is a step-1 checkpoint of the two-step "
                         "schedule (real weights); stage 2 starts from step 2 (binary "
                         "weights), e.g. OUT/step2/last.pt")
    merged = dict(init["model"]["kwargs"])
    for key, value in kwargs.items():
        if merged.get(key, value) != value:
            raise TrainError(
                f"--init {config.init!r} was built with {key}={merged[key]!r}, this run "
                f"needs {value!r}"
            )
        merged[key] = value
    return init, merged


def resume_checkpoint(out: str | Path) -> Path:
    """``out/last.pt``, or a :class:`TrainError` saying why there is nothing to resume."""
    if Path(out).exists() and not Path(out).is_dir():
        raise TrainError(f"--out {str(out)!r} is an existing file, not a run directory")
    last = Path(out) / "last.pt"
    if last.is_file():
        return last
    started = [name for name in RUN_FILES if (Path(out) / name).exists()]
    why = (f"the run in {str(out)!r} stopped before its first epoch finished; start it again "
           "with --overwrite" if started else f"{str(out)!r} holds no training run")
    raise TrainError(f"--resume: no checkpoint {str(last)!r} to resume from ({why})")


def check_out_dir(config: TrainConfig) -> None:
    """Refuse to train a fresh run into a directory that holds one, unless ``overwrite``."""
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise TrainError(f"--out {str(out)!r} is a file, not a directory")
    if config.resume or config.overwrite:
        return
    present = [name for name in RUN_FILES if (out / name).exists()]
    if present:
        raise TrainError(
            f"--out {str(out)!r} already holds a training run ({', '.join(present)}); "
            "continue it with --resume (more epochs: --resume --epochs N), or give "
            "--overwrite to replace it"
        )


def _check_epochs(config: TrainConfig, saved: dict[str, Any], last: Path) -> None:
    """``--epochs`` on resume: the recorded total, or more than the epochs already done."""
    done, planned = int(saved["epoch"]), int(saved["config"]["epochs"])
    if config.epochs != planned and config.epochs <= done:
        raise TrainError(
            f"--epochs {config.epochs}: {str(last)!r} already holds {done} epochs; to "
            f"train further give more than {done} (e.g. --epochs {done + 10})"
        )


def _read_resume(config: TrainConfig) -> dict[str, Any] | None:
    """The checkpoint to resume (``None`` for a fresh run), checked against ``config``."""
    if not config.resume:
        return None
    last = resume_checkpoint(config.out)
    saved = ckpt_mod.read_checkpoint(last)
    _check_compatible(config, saved["config"], str(last))
    _check_epochs(config, saved, last)
    return saved


def _make_model(
    config: TrainConfig, data: ImageData, d: distributed.Dist, saved: dict[str, Any] | None,
    log: Callable[[str], None],
) -> tuple[torch.nn.Module, dict[str, Any], dict[str, bool], dict[str, Any] | None]:
    """(model, kwargs, int8 state, calibration record): resumed, from --init, or fresh."""
    torch.manual_seed(config.seed)
    if saved is not None:
        kwargs, int8 = dict(saved["model"]["kwargs"]), dict(saved["int8"])
        model = ckpt_mod.restore_model(config.model, kwargs, int8, saved["model_state"],
                                       str(Path(config.out) / "last.pt"))
        return _weights_mode(model, config), kwargs, int8, saved.get("calibration")
    kwargs = model_kwargs_for(config, data)
    int8 = {"enabled": False, "frozen": False}
    if not config.init:
        model = modelspec.build_model(config.model, kwargs)
        return _weights_mode(model, config), kwargs, int8, None
    init, kwargs = _load_init(config, kwargs)
    model = ckpt_mod.restore_model(config.model, kwargs, int8, init["model_state"],
                                   f"--init {config.init!r}")
    if config.stage == 1:
        return _weights_mode(model, config), kwargs, int8, None
    _to_int8(model, data, config, log, d.device)
    calibration = {"batches": config.calib_batches, "test_acc": _accuracy(model, data, d)}
    log(f"stage 2: test_acc right after calibration {calibration['test_acc']:.4f}")
    return model, kwargs, {"enabled": True, "frozen": True}, calibration


def _weights_mode(model: torch.nn.Module, config: TrainConfig) -> torch.nn.Module:
    """``--real-weights``: the binary layers use their real weights (before the optimizer is
    built, so that these weights are decayed as real weights, not latent ones)."""
    if config.real_weights:
        modelspec.set_real_weights(model, config.model)
    return model


def build_run(config: TrainConfig, d: distributed.Dist, log: Callable[[str], None]) -> Run:
    """Data, model (fresh, from --init, or resumed), optimizer, scheduler, teacher."""
    config.validate()
    check_out_dir(config)
    if config.batch_size % d.world:
        raise TrainError(
            f"--batch-size {config.batch_size} is not divisible by the {d.world} processes"
        )
    data = load_data(config.data, config.image_size, config.transforms)
    saved = _read_resume(config)
    model, kwargs, int8, calibration = _make_model(config, data, d, saved, log)
    steps = len(distributed.global_batches(len(data.train), config.batch_size, d.world,
                                           config.seed, 1))
    optimizer = recipe.make_optimizer(
        model, config.base_lr(), config.weight_decay, config.optimizer, config.momentum,
        config.nesterov)
    scheduler = recipe.make_scheduler(
        optimizer, steps * config.epochs, round(config.warmup_epochs * steps), config.schedule
    )
    run = Run(config, data, d, model, model, optimizer, scheduler, kwargs, int8,
              calibration=calibration)
    run.scaler = torch.amp.GradScaler(d.device.type, enabled=config.amp == "fp16")
    if config.teacher:  # before restoring the RNG: building the teacher draws from it
        run.teacher = load_teacher(config, kwargs).to(d.device)
    if saved is not None:
        _restore(run, saved, log)
    _place(run)
    return run


def load_teacher(config: TrainConfig, kwargs: dict[str, Any]) -> torch.nn.Module:
    """The distillation teacher, in eval mode on the CPU.

    Without ``teacher_model``: a bnnflow checkpoint. With it: ``teacher`` is a plain
    ``state_dict`` file (``torch.save(model.state_dict())``, or a dict holding one under
    ``"state_dict"`` or ``"model_state"``) of the model ``teacher_model`` built for this data
    set (``num_classes``, ``in_channels``), e.g. a float twin such as ``ftbnn_small_float``.
    """
    if not config.teacher_model:
        return ckpt_mod.load_model(config.teacher)[0]
    shape = {k: kwargs[k] for k in ("num_classes", "in_channels") if k in kwargs}
    teacher = modelspec.build_model(config.teacher_model, shape)
    try:
        state = torch.load(config.teacher, map_location="cpu", weights_only=True)
    except Exception as err:
        raise TrainError(f"--teacher {config.teacher!r} cannot be read as a state_dict: "
                         f"{type(err).__name__}: {str(err).splitlines()[0]}") from err
    if isinstance(state, dict):
        for key in ("state_dict", "model_state"):
            if isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict):
        raise TrainError(f"--teacher {config.teacher!r} holds a {type(state).__name__}, not a "
                         "state_dict")
    try:
        teacher.load_state_dict(state)
    except RuntimeError as err:
        raise TrainError(f"--teacher {config.teacher!r} does not fit --teacher-model "
                         f"{config.teacher_model!r} with {shape}: "
                         f"{str(err).splitlines()[0]}") from err
    return teacher.eval()


def _place(run: Run) -> None:
    """Move the model to the run's device (channels_last), wrap for DDP, compile, loader."""
    config, d = run.config, run.dist
    fmt = torch.channels_last if config.channels_last else torch.preserve_format
    run.model.to(device=d.device, memory_format=fmt)
    if run.teacher is not None:
        run.teacher.to(memory_format=fmt)
    try:
        run.net = distributed.wrap_model(run.model, d, config.sync_bn)
    except ValueError as err:
        raise TrainError(str(err)) from err
    if config.compile:
        run.net = torch.compile(run.net)
    if config.workers > 0:
        run.loader = make_loader(run.data.train, config.workers, d.device.type == "cuda")


def _restore(run: Run, saved: dict[str, Any], log: Callable[[str], None]) -> None:
    """Load optimizer, scheduler, RNG and counters from ``saved`` (``out/last.pt``).

    When ``--epochs`` differs from the checkpoint's (a run extended, or shortened before it
    finished), the schedule is the one of the new total: the scheduler built for the new
    total continues at the step reached, and every group's lr is set to that schedule's
    value there (not the old schedule's, e.g. ≈ 0 at the end of a finished cosine run).
    """
    config = run.config
    run.optimizer.load_state_dict(saved["optimizer_state"])
    run.scheduler.load_state_dict(saved["scheduler_state"])
    if saved.get("scaler_state") and run.scaler.is_enabled():
        run.scaler.load_state_dict(saved["scaler_state"])
    rng = saved["rng"]
    ranks = rng.get("ranks") or []
    if len(ranks) == run.dist.world:  # each rank continues its own stream
        rng = ranks[run.dist.rank]
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and run.dist.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], run.dist.device)
    run.partial = saved.get("partial")
    if run.partial and len(run.partial.get("aug_states", [])) != run.dist.world:
        raise TrainError(
            f"{run.out / 'last.pt'} was saved in the middle of an epoch by "
            f"{len(run.partial.get('aug_states', []))} processes; resume it with as many "
            f"(this run has {run.dist.world})")
    run.saved_step = int(run.partial["step"]) if run.partial else 0
    record = saved.get("metrics")
    run.last_record = record if record and record.get("epoch") == saved["epoch"] else None
    run.start_epoch = run.saved_epoch = int(saved["epoch"])
    run.saved_epochs = int(saved["config"]["epochs"])
    run.best_acc = float(saved.get("best_acc", -1.0))
    run.best_epoch = int(saved.get("best_epoch", 0))
    done, where = run.start_epoch, run.out / "last.pt"
    if run.saved_epochs == config.epochs:
        if done < config.epochs:
            at = f", step {run.saved_step + 1}" if run.saved_step else ""
            log(f"resuming {run.out} at epoch {done + 1}{at} of {config.epochs} ({where} "
                f"holds {_epochs_text(done)}{_steps_text(run.saved_step)})")
        return
    step = run.scheduler.last_epoch
    for group, base, factor in zip(run.optimizer.param_groups, run.scheduler.base_lrs,
                                   run.scheduler.lr_lambdas, strict=True):
        group["lr"] = base * factor(step)
    verb = "extending" if config.epochs > run.saved_epochs else "shortening"
    log(f"{verb} {run.out} from {run.saved_epochs} to {config.epochs} epochs: resuming at "
        f"epoch {done + 1} of {config.epochs} ({where} holds {_epochs_text(done)}); the "
        f"{config.schedule} lr schedule is recomputed over {config.epochs} epochs (lr now "
        f"{run.optimizer.param_groups[0]['lr']:.3g})")


def _epochs_text(n: int) -> str:
    return "1 finished epoch" if n == 1 else f"{n} finished epochs"


def _steps_text(n: int) -> str:
    return f" and {n} steps of the next" if n else ""


def _to_int8(model: torch.nn.Module, data: ImageData, config: TrainConfig,
             log: Callable[[str], None], device: torch.device) -> None:
    """enable_int8 → calibrate (eval mode, on ``device``) → freeze_int8."""
    modelspec.enable_int8(model)
    if not modelspec.has_int8_points(model):
        raise TrainError(
            f"--stage 2: model {config.model!r} has no int8 points (bnnflow.nn Int8Point or "
            "Q-layers), so there is nothing to calibrate; BNN-Clip stage 2 needs a model built "
            "with them (e.g. ftbnn_small, birealnet18)")
    batches = [b.to(device) for b in calibration_batches(data, config)]
    model.to(device)
    model.eval()
    with torch.no_grad():
        modelspec.calibrate(model, batches)
    modelspec.freeze_int8(model)
    log(f"stage 2: calibrated int8 scales on {len(batches)} batches, scales frozen")


def _progress(run: Run, total: int, epoch: int):
    from tqdm import tqdm

    disable = run.config.quiet or not run.dist.is_main or not sys.stderr.isatty()
    return tqdm(total=total, desc=f"epoch {epoch}/{run.config.epochs}", disable=disable,
                leave=False, dynamic_ncols=True, file=sys.stderr)


def train_epoch(run: Run, epoch: int) -> dict[str, float]:
    """One pass over this rank's batches; returns the global mean loss and accuracy.

    Resumed in the middle of the epoch (``run.partial``), it skips the steps already done
    and continues the running sums. Also returns throughput: ``images_per_s`` (all ranks),
    ``data_wait_s`` (this rank's time blocked on the next batch) and ``train_seconds``.
    """
    config, d = run.config, run.dist
    run.net.train()
    batches = rank_batches(config, len(run.data.train), epoch, d)
    mode = run.data.augment if config.augment else "none"
    decode = mode == "decode"
    partial, run.partial = run.partial or {}, None
    first = int(partial.get("step", 0))
    sums = [float(partial.get(k, 0.0)) if d.is_main else 0.0
            for k in ("loss_sum", "correct", "count")]
    gen = torch.Generator().manual_seed(epoch_seed(config.seed, epoch, d.rank))
    if partial.get("aug_states"):
        gen.set_state(partial["aug_states"][d.rank])
    items = [(b, batch_seed(config.seed, epoch, d.rank, k) if decode else None)
             for k, b in enumerate(batches)][first:]
    sizes = [len(b) for b in distributed.global_batches(len(run.data.train), config.batch_size,
                                                         d.world, config.seed, epoch)]
    lr, wait, seen, t0 = config.base_lr(), 0.0, 0.0, time.perf_counter()
    elapsed = float(partial.get("seconds", 0.0))
    with _progress(run, len(batches), epoch) as bar:
        bar.update(first)
        stream = iter_batches(run.data.train, items, run.loader)
        for step in range(first, len(batches)):
            tw = time.perf_counter()
            images, labels = next(stream)
            if mode not in ("none", "decode"):
                images = augment_batch(images, mode, gen)
            wait += time.perf_counter() - tw
            lr, loss, correct = _train_step(run, images, labels, sizes[step])
            seen += labels.shape[0]
            sums[0] += loss * labels.shape[0]
            sums[1] += correct
            sums[2] += labels.shape[0]
            bar.update(1)
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.4f}")
            if _step_checkpoint_due(run, step + 1, len(batches)):
                _save_step(run, epoch, step + 1, sums, gen,
                           elapsed + time.perf_counter() - t0)
    here = time.perf_counter() - t0
    loss_sum, correct, count, seen = d.all_sum([*sums, seen])
    return {"train_loss": loss_sum / count, "train_acc": correct / count, "lr": lr,
            "images_per_s": seen / max(here, 1e-9), "data_wait_s": wait,
            "data_wait_share": wait / max(here, 1e-9), "train_seconds": elapsed + here}


def autocast(run: Run) -> Any:
    """``torch.autocast`` for ``--amp`` on the run's device (disabled with ``off``)."""
    dtype = AMP_DTYPES[run.config.amp]
    return torch.autocast(run.dist.device.type, dtype=dtype or torch.bfloat16,
                          enabled=dtype is not None)


def _train_step(run: Run, images: torch.Tensor, labels: torch.Tensor, global_n: int
                ) -> tuple[float, float, float]:
    """Forward (autocast), backward (GradScaler), step, clip latent weights, lr schedule.

    Returns the lr used, the batch's mean loss and its number of correct predictions. Under
    DDP each rank's loss is weighted by its share of the global batch (slices may differ by
    one image), so the averaged gradient is that of the global batch mean.
    """
    config, d = run.config, run.dist
    fmt = torch.channels_last if config.channels_last else torch.preserve_format
    images = images.to(d.device, non_blocking=True, memory_format=fmt)
    labels = labels.to(d.device, non_blocking=True)
    with autocast(run):
        logits = run.net(images).float()
        t_logits = None
        if run.teacher is not None:
            with torch.no_grad():
                t_logits = run.teacher(images).float()
    if t_logits is not None:
        loss = recipe.distillation_loss(logits, t_logits, labels, config.kd_alpha,
                                        config.kd_temperature, config.label_smoothing)
    else:
        loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
    scaled = loss
    if d.active:
        scaled = loss * (labels.shape[0] * d.world / global_n)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(scaled).backward()
    lr = run.optimizer.param_groups[0]["lr"]
    run.scaler.step(run.optimizer)
    run.scaler.update()
    modelspec.clip_latent_weights(run.model)
    run.scheduler.step()
    correct = float((logits.detach().argmax(1) == labels).sum())
    return lr, float(loss.detach()), correct


def _step_checkpoint_due(run: Run, done: int, total: int) -> bool:
    """A mid-epoch checkpoint every ``save_every_steps`` optimizer steps (not at epoch end)."""
    n = run.config.save_every_steps
    return n > 0 and done < total and run.scheduler.last_epoch % n == 0


def _save_step(run: Run, epoch: int, step: int, sums: list[float], gen: torch.Generator,
               seconds: float) -> None:
    """Write last.pt holding ``step`` steps of ``epoch``.

    All ranks call it: the running sums are reduced and the augmentation generator states
    gathered (rank ``r`` resumes with state ``r``).
    """
    loss_sum, correct, count = run.dist.all_sum(sums)
    aug_states = run.dist.all_gather_objects(gen.get_state())
    _gather_rng(run)
    if run.dist.is_main:
        state = checkpoint_dict(run, epoch - 1, run.last_record)
        state["partial"] = {"step": step, "loss_sum": loss_sum, "correct": correct,
                            "count": count, "seconds": seconds, "aug_states": aug_states}
        ckpt_mod.save_atomic(state, run.out / "last.pt")
        run.saved_epoch, run.saved_epochs, run.saved_step = epoch - 1, run.config.epochs, step
    run.dist.barrier()


@torch.no_grad()
def predict(model: torch.nn.Module, split: Split, batch_size: int = 256,
            indices: list[int] | None = None) -> torch.Tensor:
    """Arg-max class of every image of ``split`` (or of ``indices``), in order; eval mode.

    Runs in float32 on the device of the model's parameters; returns CPU indices.
    """
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    order = list(range(len(split))) if indices is None else indices
    preds = []
    for start in range(0, len(order), batch_size):
        images, _ = split.fetch(torch.tensor(order[start : start + batch_size],
                                             dtype=torch.int64))
        preds.append(model(images.to(device)).argmax(1).cpu())
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.int64)


def _accuracy(model: torch.nn.Module, data: ImageData, d: distributed.Dist) -> float:
    test = data.test
    mine = list(range(d.rank, len(test), d.world))
    preds = predict(model, test, indices=mine)
    correct = float((preds == test.labels[mine]).sum()) if mine else 0.0
    correct, count = d.all_sum([correct, float(len(mine))])
    return correct / count


def evaluate(run: Run) -> float:
    """Test accuracy of rank 0's model (ranks share the test set, counts are summed)."""
    run.dist.broadcast_buffers(run.model)
    return _accuracy(run.model, run.data, run.dist)


def checkpoint_dict(run: Run, epoch: int, record: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to rebuild the model and to resume after ``epoch``."""
    return {
        "format": ckpt_mod.FORMAT,
        "version": ckpt_mod.VERSION,
        "bnnflow_version": bnnflow.__version__,
        "model": {"name": run.config.model, "kwargs": run.model_kwargs},
        "model_state": run.model.state_dict(),
        "stage": run.config.stage,
        "int8": dict(run.int8),
        "epoch": epoch,
        "optimizer_state": run.optimizer.state_dict(),
        "scheduler_state": run.scheduler.state_dict(),
        "scaler_state": run.scaler.state_dict() if run.scaler is not None else {},
        "rng": _rng_states(run),
        "partial": None,
        "config": run.config.to_dict(),
        "data": run.data.describe(),
        "metrics": record,
        "best_acc": run.best_acc,
        "best_epoch": run.best_epoch,
        "calibration": run.calibration,
    }


def _local_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's global CPU RNG state, and its CUDA device's when on CUDA."""
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _gather_rng(run: Run) -> None:
    """Collect every rank's RNG states (all ranks call; ranks' streams differ once their
    batch slices differ in size, e.g. dropout on a last batch split 15/14)."""
    if run.dist.active:
        run.rank_rng = run.dist.all_gather_objects(_local_rng(run.dist.device))


def _rng_states(run: Run) -> dict[str, Any]:
    """Rank 0's RNG states (``torch``, ``cuda``) and, under DDP, ``ranks``: every rank's."""
    states: dict[str, Any] = _local_rng(run.dist.device)
    if run.dist.active and run.rank_rng is not None:
        states["ranks"] = run.rank_rng
    return states


def _metrics_epoch(line: str) -> int | None:
    """The epoch of a metrics line; ``None`` for a blank or cut-off line."""
    try:
        return int(json.loads(line)["epoch"])
    except (ValueError, KeyError, TypeError):
        return None


def _prepare_out(run: Run) -> None:
    """Create ``out``; fresh run: remove the old run files if ``overwrite``, start an empty
    metrics.jsonl; resume: :func:`repair_metrics`. Then write config.json."""
    out = run.out
    out.mkdir(parents=True, exist_ok=True)
    metrics = out / "metrics.jsonl"
    if run.config.resume:
        repair_metrics(metrics, run.start_epoch, run.last_record)
    else:
        if run.config.overwrite:
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
        metrics.write_text("")
    config = {**run.config.to_dict(), "model_kwargs_resolved": run.model_kwargs,
              "data_info": run.data.describe(), "world_size": run.dist.world,
              "calibration": run.calibration,
              "bnnflow_version": bnnflow.__version__}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def repair_metrics(metrics: Path, done: int, last: dict[str, Any] | None) -> list[str]:
    """Rewrite ``metrics`` to hold one line per finished epoch ``1..done``, in order.

    Drops cut-off or unreadable lines (a write killed by a full disk or a kill), lines of
    epochs after ``done`` (written before last.pt was replaced) and repeated epochs; restores
    the line of epoch ``done`` from ``last`` (the record last.pt carries) when it is
    missing. The new file is written atomically. Returns what was changed (for the log).
    """
    text = metrics.read_bytes().decode("utf-8", "replace") if metrics.exists() else ""
    kept: dict[int, str] = {}
    changes = []
    for line in text.splitlines():
        epoch = _metrics_epoch(line)
        if epoch is None:
            if line.strip():
                changes.append(f"dropped an unreadable line ({line[:40]!r}...)")
        elif epoch > done:
            changes.append(f"dropped epoch {epoch}, not in last.pt")
        elif epoch not in kept:
            kept[epoch] = line
    if done and done not in kept and last is not None and last.get("epoch") == done:
        kept[done] = json.dumps(last)
        changes.append(f"restored epoch {done} from last.pt")
    new = "".join(kept[e] + "\n" for e in sorted(kept))
    if new != text:
        tmp = metrics.with_name(f".{metrics.name}.repair.tmp")
        tmp.write_text(new)
        os.replace(tmp, metrics)
    return changes


def _finish_epoch(run: Run, epoch: int, record: dict[str, Any]) -> None:
    """Append the metrics line, then write best.pt (if improved) and last.pt atomically.

    last.pt comes last: a Ctrl-C anywhere in here leaves last.pt at ``epoch - 1`` (resume
    drops the metrics line and replays the epoch, rewriting best.pt identically) or at
    ``epoch`` with everything else written.
    """
    with open(run.out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    improved = record["test_acc"] > run.best_acc
    if improved:
        run.best_acc, run.best_epoch = record["test_acc"], epoch
    state = checkpoint_dict(run, epoch, record)
    if improved:
        ckpt_mod.save_atomic(state, run.out / "best.pt")
    ckpt_mod.save_atomic(state, run.out / "last.pt")
    run.saved_epoch, run.saved_epochs, run.saved_step = epoch, run.config.epochs, 0
    run.last_record = record


def train(config: TrainConfig, log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) training; returns the metrics records of the epochs run here.

    Under torchrun every process calls this; only rank 0 writes files and prints. With
    ``two_step`` the two steps of :mod:`bnnflow.train.twostep` run one after the other.
    """
    if config.two_step:
        from bnnflow.train.twostep import train_two_step

        return train_two_step(config, log)
    threads = torch.get_num_threads()
    if config.threads is not None:
        if config.threads < 1:
            raise TrainError(f"--threads must be at least 1, got {config.threads}")
        torch.set_num_threads(config.threads)
    try:
        d = distributed.setup(config.device)
    except ValueError as err:
        raise TrainError(str(err)) from err
    say = (lambda s: None) if (config.quiet or not d.is_main or log is None) else log
    run: Run | None = None
    try:
        run = build_run(config, d, say)
        if d.is_main:
            _prepare_out(run)
        if run.start_epoch >= config.epochs:
            say(f"{run.out / 'last.pt'} already holds all {config.epochs} epochs; to train "
                f"further: --resume --epochs N with N > {config.epochs}")
            return []
        return _epochs(run, say)
    except KeyboardInterrupt as err:
        if isinstance(err, TrainInterrupted):
            raise
        raise _interrupted(config, run, d) from None
    finally:
        if run is not None and run.loader is not None:
            run.loader = None  # shuts the persistent workers down
        distributed.teardown(d)
        torch.set_num_threads(threads)


def resume_command(config: TrainConfig, world: int, epochs_differ: bool) -> str:
    """The command line that resumes the run of ``config`` (settings come from last.pt)."""
    import shlex

    head = (f"torchrun --standalone --nproc_per_node={world} -m bnnflow.cli.main train"
            if world > 1 else "bnnflow train")
    parts = [head, "--out", shlex.quote(str(config.out)), "--resume"]
    if epochs_differ:
        parts += ["--epochs", str(config.epochs)]
    if config.threads is not None:
        parts += ["--threads", str(config.threads)]
    if config.workers:
        parts += ["--workers", str(config.workers)]
    if config.device != "auto":
        parts += ["--device", config.device]
    return " ".join(parts)


def _interrupted(config: TrainConfig, run: Run | None, d: distributed.Dist
                 ) -> TrainInterrupted:
    """The :class:`TrainInterrupted` for a Ctrl-C at this point of :func:`train`."""
    out, last = Path(config.out), Path(config.out) / "last.pt"
    if run is not None and run.saved_epoch is not None:
        command = resume_command(config, d.world, run.saved_epochs != config.epochs)
        return TrainInterrupted(out, last, run.saved_epoch, config.epochs, command, d.is_main,
                                run.saved_step)
    if config.resume:  # interrupted while loading: last.pt is untouched
        command = resume_command(config, d.world, True)
        return TrainInterrupted(out, last, None, config.epochs, command, d.is_main)
    # a fresh run: the old run files are removed (--overwrite) and new ones started only
    # once build_run has returned
    command = "the same command" + ("" if run is None else " and --overwrite")
    return TrainInterrupted(out, None, None, config.epochs, command, d.is_main)


def _epochs(run: Run, say: Callable[[str], None]) -> list[dict[str, Any]]:
    records = []
    for epoch in range(run.start_epoch + 1, run.config.epochs + 1):
        stats = train_epoch(run, epoch)
        t0 = time.perf_counter()
        test_acc = evaluate(run)
        record = {
            "epoch": epoch,
            "stage": run.config.stage,
            "train_loss": stats["train_loss"],
            "train_acc": stats["train_acc"],
            "test_acc": test_acc,
            "lr": stats["lr"],
            "seconds": stats["train_seconds"] + time.perf_counter() - t0,
            "images_per_s": stats["images_per_s"],
            "data_wait_s": stats["data_wait_s"],
            "data_wait_share": stats["data_wait_share"],
        }
        _gather_rng(run)
        if run.dist.is_main:
            _finish_epoch(run, epoch, record)
        run.dist.barrier()
        records.append(record)
        say(f"epoch {epoch}/{run.config.epochs}  train_loss {record['train_loss']:.4f}  "
            f"test_acc {test_acc:.4f}  lr {record['lr']:.3g}  {record['seconds']:.1f}s")
    return records
