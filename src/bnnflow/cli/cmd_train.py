"""``bnnflow train``: train a BNN (stage 1) or BNN-Clip int8 fine-tune it (stage 2).

Multi-process: ``torchrun --standalone --nproc_per_node=N -m bnnflow.cli.main train ...``;
several machines: ``torchrun --nnodes=M --nproc_per_node=N --rdzv-backend=c10d
--rdzv-endpoint=HOST:PORT --rdzv-id=JOB -m bnnflow.cli.main train ...`` (docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C

# Options whose default lives in TrainConfig (argparse default None = "not given").
CONFIG_OPTIONS = (
    "model", "data", "epochs", "stage", "init", "seed", "lr", "batch_size", "schedule",
    "warmup_epochs", "weight_decay", "teacher", "kd_alpha", "kd_temperature",
    "calib_batches", "augment", "image_size", "transforms", "optimizer", "momentum",
    "nesterov", "label_smoothing", "teacher_model", "device", "amp", "channels_last",
    "compile", "save_every_steps", "sync_bn", "real_weights", "step1_epochs",
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a model (stage 1: float glue; stage 2: BNN-Clip int8 fine-tune)",
        description="Train a model; writes OUT/metrics.jsonl, OUT/last.pt, OUT/best.pt and "
        "OUT/config.json (--two-step: OUT/step1 and OUT/step2, each such a run, and "
        "OUT/two_step.json). A directory that holds a run is refused unless --resume (settings "
        "not given are taken from OUT/last.pt; --epochs N extends a finished run) or "
        "--overwrite. Ctrl-C keeps the last finished epoch and prints the command to resume.",
    )
    p.add_argument("--model", help="model name (see bnnflow.models.available()) or "
                   "package.module:callable")
    p.add_argument("--data", help="digits (default), cifar10:DIR or imagefolder:DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--epochs", type=int, help="number of epochs (default 30)")
    p.add_argument("--stage", type=int, choices=(1, 2), help="1 (default) or 2 (needs --init)")
    p.add_argument("--init", metavar="CKPT", help="start from this checkpoint's weights")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 2e-3; stage 2: 2e-4)")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    p.add_argument("--schedule", choices=("cosine", "linear"), help="lr decay (default cosine)")
    p.add_argument("--warmup-epochs", type=float, help="linear warmup length (default 0)")
    p.add_argument("--weight-decay", type=float,
                   help="L2 on real-valued weights (default 5e-6; binary latent weights: 0)")
    p.add_argument("--teacher", metavar="CKPT", help="distil from this (float) checkpoint "
                   "(with --teacher-model: a plain state_dict file)")
    p.add_argument("--teacher-model", metavar="NAME",
                   help="architecture of a state_dict --teacher (e.g. ftbnn_small_float)")
    p.add_argument("--kd-alpha", type=float, help="weight of the distillation term (0.5)")
    p.add_argument("--kd-temperature", type=float, help="softening temperature (4.0)")
    p.add_argument("--calib-batches", type=int, help="stage 2: calibration batches (8)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="data augmentation (default on: shifts for digits, crop+flip else)")
    p.add_argument("--image-size", type=int, help="imagefolder: resize images to N x N "
                   "(--transforms imagenet: the crop size, default 224)")
    p.add_argument("--transforms", choices=("resize", "imagenet"),
                   help="imagefolder decoding: resize (default; square resize, pad-crop+flip) "
                   "or imagenet (RandomResizedCrop+flip; eval resize 256/224, centre crop)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), help="optimizer (default adam)")
    p.add_argument("--momentum", type=float, help="sgd momentum (default 0.9)")
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction,
                   help="sgd: Nesterov momentum (default off)")
    p.add_argument("--label-smoothing", type=float, help="cross-entropy label smoothing (0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"),
                   help="where to train (default auto: CUDA when available)")
    p.add_argument("--amp", choices=("off", "bf16", "fp16"),
                   help="autocast mixed precision (default off; fp16 adds a GradScaler)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                   help="NHWC memory format for model and batches (default off)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction,
                   help="torch.compile the training forward (default off)")
    p.add_argument("--save-every-steps", type=int, metavar="N",
                   help="also write OUT/last.pt every N optimizer steps (default 0: epochs "
                   "only); --resume continues in the middle of the epoch")
    p.add_argument("--sync-bn", action=argparse.BooleanOptionalAction,
                   help="SyncBatchNorm across torchrun processes (CUDA only; default off)")
    p.add_argument("--two-step", action="store_true",
                   help="the ReActNet / Real-to-Binary schedule in one run: step 1 (binary "
                   "activations, real weights) into OUT/step1, then step 2 (binary weights, "
                   "from step 1, fresh optimizer) into OUT/step2; --epochs is the total")
    p.add_argument("--step1-epochs", type=int, metavar="K",
                   help="--two-step: epochs of step 1 (default --epochs // 2)")
    p.add_argument("--real-weights", action=argparse.BooleanOptionalAction,
                   help="binary layers use their real weights (step 1 of the two-step "
                   "schedule, run by hand; default off)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra model builder argument (VALUE parsed as JSON); repeatable")
    p.add_argument("--resume", action="store_true",
                   help="continue OUT/last.pt; with --epochs N (more than done) extend the "
                   "run, the lr schedule recomputed over N epochs")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in OUT (metrics.jsonl, last.pt, best.pt, "
                   "config.json; other files are kept)")
    p.add_argument("--workers", type=int, default=0, help="data loading processes (0)")
    p.add_argument("--threads", type=int,
                   help="torch CPU threads per process (default: torch's choice; 1 is "
                   "fastest for small models on a busy machine)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no epoch lines")
    p.set_defaults(func=run)
    return p


def parse_model_args(items: list[str]) -> dict[str, Any]:
    """``["groups=2", "act=\\"prelu\\""]`` → ``{"groups": 2, "act": "prelu"}``."""
    from bnnflow.cli.main import UsageError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--model-arg {item!r}: expected KEY=VALUE with KEY an identifier")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def make_config(args: argparse.Namespace) -> Any:
    """The TrainConfig of this command line (settings from last.pt when resuming)."""
    from bnnflow.cli.main import UsageError
    from bnnflow.train.checkpoint import read_checkpoint
    from bnnflow.train.trainer import TrainConfig, TrainError, resume_checkpoint
    from bnnflow.train.twostep import PLAN, read_plan

    given = {k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k) is not None}
    if args.model_arg:
        given["model_kwargs"] = parse_model_args(args.model_arg)
    base: dict[str, Any] = {}
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out and --overwrite replaces it; "
                         "give one of them")
    two_step = args.two_step
    if args.resume and (two_step or (Path(args.out) / PLAN).is_file()):
        try:
            saved = read_plan(args.out)["config"]
        except TrainError as err:
            raise UsageError(str(err)) from err
        base = {k: saved[k] for k in (*CONFIG_OPTIONS, "model_kwargs") if k in saved}
        two_step = True
    elif args.resume:
        try:
            last = resume_checkpoint(args.out)
        except TrainError as err:
            raise UsageError(str(err)) from err
        saved = read_checkpoint(last)["config"]
        base = {k: saved[k] for k in (*CONFIG_OPTIONS, "model_kwargs") if k in saved}
    elif "model" not in given:
        raise UsageError("--model is required (or --resume an existing run)")
    fields = {**base, **given}
    # When resuming, the trainer checks that everything given agrees with last.pt.
    return TrainConfig(out=args.out, resume=args.resume, overwrite=args.overwrite,
                       quiet=args.quiet, two_step=two_step,
                       workers=args.workers, threads=args.threads, **fields)


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError
    from bnnflow.train import (
        CheckpointError,
        DataError,
        ModelError,
        TrainError,
        TrainInterrupted,
        train,
    )

    if args.workers < 0:
        raise UsageError(f"--workers must be ≥ 0, got {args.workers}")
    try:
        config = make_config(args)
        train(config, log=print)
    except (TrainError, DataError, ModelError, CheckpointError) as err:
        raise UsageError(str(err)) from err
    except TrainInterrupted as stop:
        if stop.is_main:
            print(f"\nbnnflow train: {stop.report()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
