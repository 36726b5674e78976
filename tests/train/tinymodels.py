"""Small local models for the trainer tests (independent of bnnflow.models)."""

from __future__ import annotations

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(SignSTE.apply(x), SignSTE.apply(self.weight), self.bias)


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
