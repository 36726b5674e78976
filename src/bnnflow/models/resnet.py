"""Float ResNet-18/34 with torchvision's layer names: distillation teachers.

The architecture and the ``state_dict`` keys are those of ``torchvision.models.resnet18`` /
``resnet34`` (He et al. 2016, "BasicBlock" v1.5 as torchvision builds it), so a torchvision
checkpoint loads with ``load_state_dict(strict=True)`` without torchvision installed:

- ``conv1`` (7x7/2, no bias) → ``bn1`` → ReLU → max pool 3x3/2;
- ``layer1`` … ``layer4`` of ``[2, 2, 2, 2]`` (ResNet-18) or ``[3, 4, 6, 3]`` (ResNet-34)
  basic blocks, widths 64/128/256/512, the first block of ``layer2``-``layer4`` with stride 2;
  block ``layerS.B``: ``conv1`` (3x3, stride) → ``bn1`` → ReLU → ``conv2`` (3x3) → ``bn2``,
  plus the shortcut ``downsample.0`` (1x1 conv, stride, no bias) → ``downsample.1`` (BN) where
  the shape changes; add, ReLU;
- adaptive average pool 1x1 → ``fc`` (with bias).

Input: like every bnnflow model, raw pixel values 0..255 (NCHW float). torchvision's ResNets
expect ``(x/255 − mean)/std`` with the ImageNet ``mean = (0.485, 0.456, 0.406)``,
``std = (0.229, 0.224, 0.225)``; that normalisation is the model's first step
(:class:`PixelNormalize`, non-persistent buffers, so the state dict keeps torchvision's key
set). Other channel counts default to ``mean = 0.449``, ``std = 0.226`` per channel (the
means of the three), or pass ``mean``/``std``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .blocks import check_common

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = 0.449, 0.226
LAYERS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def _floats(name: str, values: Sequence[float]) -> list[float]:
    """``values`` as finite floats, one per channel; ValueError naming ``name`` otherwise."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list of floats (one per channel), got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"{name} values must be finite numbers, got {list(values)}")
        out.append(float(v))
    return out


class PixelNormalize(nn.Module):
    """``y[c] = (x[c]/255 − mean[c]) / std[c]`` on raw pixels 0..255 (torchvision's input).

    The buffers are not persistent: they are not in the state dict.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean, std = _floats("mean", mean), _floats("std", std)
        if not mean or len(mean) != len(std):
            raise ValueError(f"mean and std need the same non-zero length, got {len(mean)} "
                             f"and {len(std)}")
        if not all(0 < v < float("inf") for v in std):
            raise ValueError(f"std values must be finite and > 0, got {std}")
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x / 255.0 - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock``: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ``ResNet`` with basic blocks, preceded by :class:`PixelNormalize`."""

    def __init__(self, layers: Sequence[int], num_classes: int, in_channels: int,
                 mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.normalize = PixelNormalize(mean, std)
        if len(mean) != in_channels:
            raise ValueError(f"mean/std have {len(mean)} values for in_channels={in_channels}")
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(inplanes, planes, stride)]
            blocks += [BasicBlock(planes, planes) for _ in range(count - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.normalize(x)))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _build(name: str, num_classes: int, in_channels: int, mean: Sequence[float] | None,
           std: Sequence[float] | None) -> ResNet:
    check_common(num_classes, in_channels)
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither")
    if mean is None or std is None:
        rgb = in_channels == 3
        mean = IMAGENET_MEAN if rgb else (GRAY_MEAN,) * in_channels
        std = IMAGENET_STD if rgb else (GRAY_STD,) * in_channels
    return ResNet(LAYERS[name], num_classes, in_channels, mean, std)


def resnet18(num_classes: int = 1000, in_channels: int = 3,
             mean: Sequence[float] | None = None, std: Sequence[float] | None = None
             ) -> nn.Module:
    """Float ResNet-18, torchvision's layer names; input 0..255 (see the module docstring)."""
    return _build("resnet18", num_classes, in_channels, mean, std)


def resnet34(num_classes: int = 1000, in_channels: int = 3,
             mean: Sequence[float] | None = None, std: Sequence[float] | None = None
             ) -> nn.Module:
    """Float ResNet-34, torchvision's layer names; input 0..255 (see the module docstring)."""
    return _build("resnet34", num_classes, in_channels, mean, std)
