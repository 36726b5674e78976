"""The training recipe: optimizer, learning-rate schedule, loss (with optional distillation).

Optimizer: Adam (default) or SGD (``momentum``, optionally Nesterov). Parameter groups:

- binary latent weights (``BinaryConv2d``/``BinaryLinear`` weights): weight decay 0 — decay
  would pull latent weights toward 0 where their sign flips at random;
- other weights with ≥ 2 dimensions (real-valued stem, classifier, downsampling convs): the
  ``weight_decay`` given (L2, added to the gradient as ``torch.optim.Adam`` does);
- biases, BatchNorm affine parameters, PReLU slopes, learned shifts (1-D or scalar): 0.

Schedule, per optimizer step ``t`` of ``T`` (``W`` warmup steps):
``lr(t) = lr · (t+1)/W`` for ``t < W``; then with ``p = (t − W)/(T − W)``:
cosine ``lr · ½(1 + cos(π p))``, linear ``lr · (1 − p)``.

Loss: cross-entropy (with label smoothing ``ε``: the target is ``(1 − ε)·onehot(y) + ε/K``);
with a teacher, ``(1 − α)·CE(s, y) + α·τ²·KL(softmax(t/τ) ‖ softmax(s/τ))`` (Hinton et al.
2015; τ² keeps the gradient scale independent of τ).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from bnnflow.train.modelspec import is_binary_latent

SCHEDULES = ("cosine", "linear")
OPTIMIZERS = ("adam", "sgd")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Split parameters into (binary latent, decayed real weights, undecayed rest)."""
    binary: list[torch.nn.Parameter] = []
    decayed: list[torch.nn.Parameter] = []
    other: list[torch.nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            if is_binary_latent(module, name):
                binary.append(param)
            elif param.ndim >= 2:
                decayed.append(param)
            else:
                other.append(param)
    groups = [
        {"params": binary, "weight_decay": 0.0, "name": "binary_latent"},
        {"params": decayed, "weight_decay": weight_decay, "name": "real_weights"},
        {"params": other, "weight_decay": 0.0, "name": "no_decay"},
    ]
    return [g for g in groups if g["params"]]


def make_optimizer(
    model: torch.nn.Module, lr: float, weight_decay: float, kind: str = "adam",
    momentum: float = 0.9, nesterov: bool = False,
) -> torch.optim.Optimizer:
    """Adam, or SGD with ``momentum`` (Nesterov if ``nesterov``), over :func:`param_groups`."""
    if kind == "adam":
        return torch.optim.Adam(param_groups(model, weight_decay), lr=lr)
    if kind == "sgd":
        return torch.optim.SGD(param_groups(model, weight_decay), lr=lr, momentum=momentum,
                               nesterov=nesterov)
    raise ValueError(f"unknown optimizer {kind!r}; expected one of {OPTIMIZERS}")


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based) of ``total``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {SCHEDULES}")
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    p = min(1.0, (step - warmup) / span)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    return 1.0 - p


def make_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int, schedule: str
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step ``LambdaLR`` following :func:`lr_factor`."""
    lr_factor(0, total_steps, warmup_steps, schedule)  # validates the schedule name
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, schedule)
    )


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, alpha: float,
    temperature: float, label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``(1 − α)·CE(student, labels) + α·τ²·KL(softmax(teacher/τ) ‖ softmax(student/τ))``.

    ``label_smoothing`` applies to the cross-entropy term only.
    """
    ce = F.cross_entropy(student, labels, label_smoothing=label_smoothing)
    if alpha == 0.0:
        return ce
    kl = F.kl_div(
        F.log_softmax(student / temperature, dim=1),
        F.log_softmax(teacher / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return (1.0 - alpha) * ce + alpha * temperature**2 * kl
