"""Small local models for the trainer tests (independent of bnnflow.models)."""

from __future__ import annotations

import os

import torch
from torch import nn


class SignSTE(torch.autograd.Function):
    """sign(x) (sign(0) = +1) with the clipped straight-through gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class TinyBinaryLinear(nn.Linear):
    """A linear layer whose weight is binarised in the forward."""

    binary_weight = True
    real_weights = False  # True: step 1 of the two-step schedule (real weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight if self.real_weights else SignSTE.apply(self.weight)
        return nn.functional.linear(SignSTE.apply(x), w, self.bias)


class TinyNet(nn.Module):
    """conv stem → BN → binary linear → BN → classifier, for 1x8x8 digits."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.binary = TinyBinaryLinear(width * 16, 64)
        self.bn2 = nn.BatchNorm1d(64)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.bn1(self.stem(x / 255.0)))
        x = self.bn2(self.binary(x.flatten(1)))
        return self.fc(self.drop(x))


def tiny(num_classes: int = 10, in_channels: int = 1, **kwargs) -> nn.Module:
    return TinyNet(num_classes, in_channels, **kwargs)


class KillableTiny(TinyNet):
    """:class:`TinyNet` whose ``N``-th training forward raises ``KeyboardInterrupt`` when the
    environment variable ``TINY_KILL_AT=N`` is set: a Ctrl-C at a known step inside a
    torchrun job (every rank stops at the same step)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == int(os.environ.get("TINY_KILL_AT", "0")):
                raise KeyboardInterrupt
        return super().forward(x)


def tiny_killable(num_classes: int = 10, in_channels: int = 1, **kwargs) -> nn.Module:
    return KillableTiny(num_classes, in_channels, **kwargs)
