"""ReActNet-18: Bi-Real-Net-18 with ReActNet's RSign and RPReLU (Liu et al., ECCV 2020).

Block (every binary 3x3 conv has its own shortcut, as Bi-Real):
``RSign(x) = sign(x - alpha) → binary conv 3x3 → BN → + shortcut → RPReLU`` with
``RPReLU(x) = prelu(x - gamma; beta) + zeta``, all per channel and learnable. Binary convs as
Bi-Real (``approx_sign`` gradient, ``mean|W|`` weight scale, zero padding), stem conv 7x7/2 →
BN → max pool 3x3/2 (``cifar=True``: conv 3x3/1, no max pool), global average pool → dense.

Shortcuts of the blocks that halve the resolution and double the channels:

- ``downsample='real'`` (default, Bi-Real): ``AvgPool 2x2/2 → real conv 1x1 → BN``;
- ``downsample='concat'`` (ReActNet-A's reduction block): the binary conv is split in two
  halves that read the same RSign output, each ``BN(bconv_i(s)) + AvgPool(x)`` with the
  parameter-free pooled shortcut, concatenated on channels (``torch.cat``) before the RPReLU.

``reactnet_small``: the same blocks on the 8x8 digits topology of the other ``*_small`` models.
"""

from __future__ import annotations

import torch
from torch import nn

from bnnflow.nn import BinaryConv2d, InputNormalize, Int8Point, RPReLU, SignActivation
from bnnflow.nn._checks import check_choice

from .birealnet import _imagenet_norm
from .blocks import (
    DIGITS_SCALE,
    DIGITS_ZERO_POINT,
    RESNET18_BLOCKS,
    BasicBlock,
    ResNetBNN,
    Stem,
    batch_norm,
    check_bool,
    check_common,
    imagenet_or_cifar_stem,
    make_stages,
)

DOWNSAMPLES = ("real", "concat")


class ConcatDownBlock(nn.Module):
    """``cat([BN(bconv_a(s)) + p, BN(bconv_b(s)) + p]) → RPReLU`` with ``s = RSign(x)`` and
    ``p = AvgPool 2x2/2 (x)``; ``out_ch = 2·in_ch``, stride 2.

    Int8 data-flow: the two sums carry no Int8Point of their own; the one after the
    concatenation gives them its scale (the converter writes each add straight at it).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        if out_ch != 2 * in_ch or stride != 2:
            raise ValueError(f"ConcatDownBlock doubles the channels at stride 2; got {in_ch} → "
                             f"{out_ch} channels, stride {stride}")
        self.sign = SignActivation("approx", channels=in_ch, learnable_shift=True)
        self.conv_a = BinaryConv2d(in_ch, in_ch, 3, 2, input_quantizer=None,
                                   weight_scale="channel_mean")
        self.conv_b = BinaryConv2d(in_ch, in_ch, 3, 2, input_quantizer=None,
                                   weight_scale="channel_mean")
        self.bn_a = batch_norm(in_ch)
        self.bn_b = batch_norm(in_ch)
        self.q_bn_a = Int8Point()
        self.q_bn_b = Int8Point()
        self.pool = nn.AvgPool2d(2, 2)
        self.q_pool = Int8Point()
        self.q_cat = Int8Point()
        self.nl = RPReLU(out_ch)
        self.q_nl = Int8Point()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.sign(x)
        p = self.q_pool(self.pool(x))
        a = self.q_bn_a(self.bn_a(self.conv_a(s))) + p
        b = self.q_bn_b(self.bn_b(self.conv_b(s))) + p
        out = self.q_cat(torch.cat([a, b], 1))
        return self.q_nl(self.nl(out))


def _reactnet_block(downsample: str):
    def block(in_ch: int, out_ch: int, stride: int) -> nn.Module:
        if downsample == "concat" and stride == 2:
            return ConcatDownBlock(in_ch, out_ch, stride)
        return BasicBlock(in_ch, out_ch, stride, binary=True, input_quantizer="approx",
                          weight_scale="channel_mean", nonlinearity="rprelu",
                          position="after_add", bias=True)
    return block


def reactnet18(num_classes: int = 1000, in_channels: int = 3, downsample: str = "real",
               cifar: bool = False) -> nn.Module:
    """ReActNet-18 for 224x224 input (``cifar=True``: 32x32); see the module docstring."""
    check_common(num_classes, in_channels)
    check_choice("downsample", downsample, DOWNSAMPLES)
    check_bool("cifar", cifar)
    norm = _imagenet_norm(in_channels)
    stem = imagenet_or_cifar_stem(in_channels, 64, tuple(norm.scale.tolist()), cifar)
    blocks = make_stages(64, (64, 128, 256, 512), RESNET18_BLOCKS,
                         block=_reactnet_block(downsample))
    return ResNetBNN(norm, stem, blocks, 512, num_classes)


def reactnet_small(num_classes: int = 10, in_channels: int = 1, downsample: str = "real"
                   ) -> nn.Module:
    """ReActNet blocks for 8x8 input: stem conv 3x3 (32), 3 stages x 2 blocks (32/64/128
    channels, 8x8 → 4x4 → 2x2), as the other ``*_small`` models."""
    check_common(num_classes, in_channels)
    check_choice("downsample", downsample, DOWNSAMPLES)
    norm = InputNormalize([DIGITS_ZERO_POINT] * in_channels, [DIGITS_SCALE] * in_channels)
    stem = Stem(in_channels, 32, 3, 1, tuple(norm.scale.tolist()), maxpool=False)
    blocks = make_stages(32, (32, 64, 128), 2, block=_reactnet_block(downsample))
    return ResNetBNN(norm, stem, blocks, 128, num_classes)
