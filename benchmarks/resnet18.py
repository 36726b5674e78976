"""ResNet-18 in plain PyTorch (the torchvision topology, without torchvision).

The float reference network of the peer benchmarks: ``conv7x7/2 (64) -> BN -> ReLU ->
maxpool3x3/2 -> 4 stages x 2 BasicBlocks (64, 128, 256, 512 channels; the first block of
stages 2-4 has stride 2 and a 1x1/2 conv + BN shortcut) -> global average pool -> FC``.
At 224x224 it does 1.814 G multiply-accumulates and has 11.69 M parameters, as torchvision's
``resnet18``. Weights are random (Kaiming normal for convs, BN at gamma=1/beta=0, with random
running statistics so that BN is not an identity that an optimizer could drop).
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """``y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with 3x3 convs."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 for ``(N, 3, H, W)`` float input; returns ``(N, num_classes)`` logits."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000, seed: int = 0) -> ResNet18:
    """A ResNet-18 in eval mode with seeded random weights and BN running statistics."""
    gen = torch.Generator().manual_seed(seed)
    model = ResNet18(num_classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.01, generator=gen)
                m.bias.zero_()
    return model.eval()


def count_macs(model: nn.Module, hw: int = 224) -> int:
    """Multiply-accumulates of the convs and linear layers for one ``3 x hw x hw`` image."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total += out.shape[1] * out.shape[2] * out.shape[3] * k

    def fc_hook(m: nn.Linear, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(fc_hook))
    with torch.no_grad():
        model(torch.zeros(1, 3, hw, hw))
    for h in hooks:
        h.remove()
    return total
