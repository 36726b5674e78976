"""The two-step schedule of ReActNet / Real-to-Binary as one run (``bnnflow train --two-step``).

Step 1 trains with binary activations and **real weights** (the binary layers in real-weight
mode, :func:`bnnflow.nn.set_real_weights`) into ``OUT/step1``; step 2 trains with binary
activations and binary weights into ``OUT/step2``, initialised from ``OUT/step1/last.pt``
(every parameter and buffer: weights, BatchNorm, non-linearity parameters) with a fresh
optimizer, a fresh learning-rate schedule (warmup included) and the same seed. Each step is
an ordinary stage-1 run of :func:`bnnflow.train.trainer.train`, so each has its own
``metrics.jsonl``, checkpoints and exact resume.

``OUT/two_step.json`` records the plan: the configuration of the command and the epochs of
each step (``epochs = step1 + step2``; ``step1_epochs`` defaults to ``epochs // 2``). Resuming
(``--resume``) continues step 1 if ``OUT/step1/last.pt`` is unfinished, then continues or
starts step 2; ``--resume --epochs N`` lengthens step 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bnnflow.train import checkpoint as ckpt_mod
from bnnflow.train import distributed, trainer
from bnnflow.train.trainer import RUN_FILES, TrainConfig, TrainError, TrainInterrupted

PLAN = "two_step.json"
PLAN_FORMAT = "bnnflow-two-step"
STEPS = ("step1", "step2")


class TwoStepInterrupted(TrainInterrupted):
    """Ctrl-C in a step of a two-step run: which step, what is saved, how to resume all."""

    def __init__(self, inner: TrainInterrupted, step: int, command: str) -> None:
        super().__init__(inner.out, inner.checkpoint, inner.epoch, inner.epochs, command,
                         inner.is_main, inner.step)
        self.two_step_step = step

    def report(self) -> str:
        head = f"two-step schedule, step {self.two_step_step} of 2: "
        if self.checkpoint is None:
            done = ("" if self.two_step_step == 1 else
                    f" ({Path(self.out).parent / 'step1' / 'last.pt'} holds step 1, finished)")
            return (f"{head}interrupted before the first epoch of {self.out} finished; "
                    f"nothing of this step was saved{done}.\nResume with: {self.command}")
        return head + super().report()


def split_epochs(config: TrainConfig) -> tuple[int, int]:
    """(epochs of step 1, epochs of step 2): ``step1_epochs`` (default ``epochs // 2``)."""
    k = config.step1_epochs if config.step1_epochs is not None else config.epochs // 2
    return k, config.epochs - k


def step_configs(config: TrainConfig) -> tuple[TrainConfig, TrainConfig]:
    """The stage-1 runs of the two steps (``resume``/``overwrite`` are set by the caller)."""
    k, rest = split_epochs(config)
    out = Path(config.out)
    plain = {"two_step": False, "step1_epochs": None, "resume": False, "overwrite": False}
    step1 = replace(config, out=str(out / "step1"), epochs=k, real_weights=True, **plain)
    step2 = replace(config, out=str(out / "step2"), epochs=rest,
                    init=str(out / "step1" / "last.pt"), real_weights=False, **plain)
    return step1, step2


def read_plan(out: str | Path) -> dict[str, Any]:
    """``OUT/two_step.json``, or a :class:`TrainError` saying that OUT holds no two-step run."""
    path = Path(out) / PLAN
    try:
        plan = json.loads(path.read_text())
    except FileNotFoundError:
        raise TrainError(f"--resume --two-step: {str(out)!r} holds no two-step run (no "
                         f"{PLAN})") from None
    except (OSError, json.JSONDecodeError) as err:
        raise TrainError(f"{str(path)!r} cannot be read: {err}") from err
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise TrainError(f"{str(path)!r} is not a bnnflow two-step plan")
    if not isinstance(plan.get("config"), dict) or not isinstance(plan.get("step1_epochs"), int):
        raise TrainError(f"{str(path)!r}: the plan has no 'config' object or no integer "
                         "'step1_epochs' (a damaged file; start again with --overwrite)")
    return plan


def _write_plan(config: TrainConfig) -> None:
    k, rest = split_epochs(config)
    plan = {"format": PLAN_FORMAT, "step1_epochs": k, "step2_epochs": rest,
            "steps": list(STEPS), "config": config.to_dict()}
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{PLAN}.tmp"
    tmp.write_text(json.dumps(plan, indent=2) + "\n")
    os.replace(tmp, out / PLAN)


def _check_fresh(config: TrainConfig) -> None:
    """A fresh two-step run: OUT (and its step directories) must not hold a run."""
    if config.overwrite:
        return
    out = Path(config.out)
    present = [str(Path(sub) / name) for sub in ("", *STEPS) for name in (*RUN_FILES, PLAN)
               if (out / sub / name).exists()]
    if present:
        raise TrainError(f"--out {str(out)!r} already holds a training run "
                         f"({', '.join(present)}); continue it with --resume, or give "
                         "--overwrite to replace it")


def _clear(config: TrainConfig) -> None:
    """``--overwrite``: remove the run files of OUT, OUT/step1 and OUT/step2 (nothing else),
    so that a later ``--resume`` cannot continue a step of the replaced run."""
    out = Path(config.out)
    for sub in ("", *STEPS):
        for name in RUN_FILES:
            (out / sub / name).unlink(missing_ok=True)


def _check_resume(config: TrainConfig) -> None:
    plan = read_plan(config.out)
    k, _ = split_epochs(config)
    if plan.get("step1_epochs") != k:
        raise TrainError(f"--step1-epochs {k}: {str(Path(config.out) / PLAN)!r} planned "
                         f"{plan.get('step1_epochs')} epochs for step 1; resume with the same "
                         "split (--epochs N may lengthen step 2)")


def _finished(last: Path, epochs: int) -> bool:
    """Whether ``last`` holds all ``epochs`` epochs (not a mid-epoch step checkpoint)."""
    if not last.is_file():
        return False
    saved = ckpt_mod.read_checkpoint(last)
    return int(saved["epoch"]) >= epochs and saved.get("partial") is None


def _n(epochs: int) -> str:
    return "1 epoch" if epochs == 1 else f"{epochs} epochs"


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def resume_command(config: TrainConfig) -> str:
    """The command line that resumes the two-step run of ``config``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    one = trainer.resume_command(config, world, False)
    return one.replace(" --resume", " --two-step --resume", 1)


def _step2_config(step2: TrainConfig, resume: bool) -> TrainConfig:
    """Step 2 resumed keeps the ``init`` path its checkpoint records (the same file, maybe
    spelled differently: OUT given relative once and absolute now)."""
    if not resume:
        return replace(step2, overwrite=True)
    saved = ckpt_mod.read_checkpoint(Path(step2.out) / "last.pt")["config"].get("init")
    same = saved and Path(saved).resolve() == Path(step2.init or "").resolve()
    return replace(step2, resume=True, init=saved if same else step2.init)


def _run_steps(config: TrainConfig, step1: TrainConfig, step2: TrainConfig,
               say: Callable[[str], None], log: Callable[[str], None] | None,
               progress: list[int]) -> list[dict[str, Any]]:
    """Step 1 (unless finished), then step 2, each started or resumed."""
    records: list[dict[str, Any]] = []
    last1 = Path(step1.out) / "last.pt"
    if config.resume and _finished(last1, step1.epochs):
        say(f"step 1 is finished ({last1} holds its {_n(step1.epochs)})")
    else:
        resume1 = config.resume and last1.is_file()
        records += trainer.train(replace(step1, resume=resume1, overwrite=not resume1), log)
    progress[0] = 2
    resume2 = config.resume and (Path(step2.out) / "last.pt").is_file()
    say(f"step 2: {'resuming' if resume2 else 'starting from'} "
        f"{Path(step2.out) / 'last.pt' if resume2 else last1}")
    records += trainer.train(_step2_config(step2, resume2), log)
    return records


def train_two_step(config: TrainConfig, log: Callable[[str], None] | None = None
                   ) -> list[dict[str, Any]]:
    """Run (or resume) both steps; returns the metrics records of the epochs run here (step
    1's, then step 2's; each record's ``epoch`` counts within its step)."""
    if config.resume:  # the split of the plan, unless given (then it must agree)
        planned = read_plan(config.out).get("step1_epochs")
        if config.step1_epochs is None and isinstance(planned, int):
            config = replace(config, step1_epochs=planned)
        config.validate()
        _check_resume(config)
    else:
        config.validate()
        if _is_main():  # other ranks could already see rank 0's plan; its error ends the job
            _check_fresh(config)
        config = replace(config, step1_epochs=split_epochs(config)[0])
    say = (lambda s: None) if (config.quiet or log is None or not _is_main()) else log
    step1, step2 = step_configs(config)
    if _is_main():
        if config.overwrite:
            _clear(config)
        _write_plan(config)
    say(f"two-step schedule: step 1 (binary activations, real weights) {_n(step1.epochs)} "
        f"into {step1.out}, step 2 (binary weights, from step 1) {_n(step2.epochs)} into "
        f"{step2.out}")
    progress = [1]  # the step running (for the interrupt report)
    with distributed.hold_group():  # one process group for both steps (torchrun)
        try:
            return _run_steps(config, step1, step2, say, log, progress)
        except TrainInterrupted as stop:
            raise TwoStepInterrupted(stop, progress[0], resume_command(config)) from None
