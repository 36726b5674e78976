"""Building blocks shared by the Bi-Real-style models (Bi-Real-Net, FTBNN, small nets).

Int8 data-flow convention: an :class:`~bnnflow.nn.Int8Point` follows every tensor that is int8
in the engine's int8 data-flow — each BatchNorm, residual add, glue non-linearity and pooling,
and the stem. Binary convolutions read those tensors through their own sign quantizer; the
classifier's output (int32 → float logits) is not an int8 tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bnnflow.nn import (
    BinaryConv2d,
    ChannelShuffle,
    InputNormalize,
    Int8Point,
    PReLU,
    QConv2d,
    QLinear,
    RPReLU,
    SignActivation,
    TwoSidedPReLU,
)
from bnnflow.nn._checks import check_choice, check_positive_float, check_positive_int

from .tf_same import TFSameBinaryConv2d, TFSamePad

NONLINEARITIES = ("two_sided_prelu", "rprelu", "prelu", "relu", "none")
POSITIONS = ("after_add", "before_add")

# ImageNet mean/std of torchvision, as an integer zero point and a scale on 0..255 pixels.
IMAGENET_ZERO_POINT = (124, 116, 104)
IMAGENET_SCALE = (1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255))
# 8x8 digits (pixel values 0..240 after x15): background 0 stays 0, so padding is exact.
DIGITS_ZERO_POINT = 0
DIGITS_SCALE = 1 / 120


def batch_norm(channels: int, bn: dict[str, float] | None = None) -> nn.BatchNorm2d:
    """``nn.BatchNorm2d`` with optional ``momentum``/``eps`` (Keras momentum m is 1 - m)."""
    return nn.BatchNorm2d(channels, **(bn or {}))


def make_nonlinearity(kind: str, channels: int, bias: bool = False) -> nn.Module | None:
    """The module for a non-linearity name (``None`` for ``'none'``).

    ``bias=True`` adds learnable shifts before and after it (``f(x - gamma) + zeta``):
    ``'two_sided_prelu'`` → ``TwoSidedPReLU(bias=True)``, ``'prelu'`` / ``'rprelu'`` →
    :class:`~bnnflow.nn.RPReLU` (which has them already); ``'relu'`` refuses it.
    """
    check_choice("nonlinearity", kind, NONLINEARITIES)
    if bias and kind == "relu":
        raise ValueError("bias=True has no shifted form of nonlinearity='relu'; use 'prelu' "
                         "(RPReLU) or 'two_sided_prelu'")
    if kind == "two_sided_prelu":
        return TwoSidedPReLU(channels, bias=bias)
    if kind == "rprelu" or (kind == "prelu" and bias):
        return RPReLU(channels)
    if kind == "prelu":
        return PReLU(channels)
    if kind == "relu":
        return nn.ReLU()
    return None


def input_sign(kind: str, channels: int, bias: bool) -> str | SignActivation:
    """A binary layer's input quantizer: ``kind`` or, with ``bias``, a learnable-threshold
    sign ``sign(x - alpha)`` (ReActNet's RSign, FTBNN's bias before the sign)."""
    if not bias:
        return kind
    return SignActivation(kind, channels=channels, learnable_shift=True)


def scaled_width(base: int, width: float, groups: int) -> int:
    """``base · width`` rounded to the nearest multiple of ``groups`` (at least ``groups``)."""
    return max(groups, round(base * width / groups) * groups)


class Downsample(nn.Module):
    """Shortcut that changes shape: AvgPool2d(2) → 1x1 conv (real or binary) → BN.

    Bi-Real-Net's real-valued downsampling (QConv2d) or FTBNN's binary downsampling
    (BinaryConv2d with its own sign quantizer).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        binary: bool,
        input_quantizer: str = "approx",
        weight_scale: str = "channel_mean",
        bn: dict[str, float] | None = None,
        bias: bool = False,
        tf_padding: bool = False,
    ) -> None:
        super().__init__()
        # TF 'same' average pool: a partial window at the bottom/right of an odd input,
        # divided by its taps inside the image (ceil_mode without padding does that).
        self.pool = nn.AvgPool2d(stride, stride, ceil_mode=tf_padding) if stride > 1 else None
        self.q_pool = Int8Point() if stride > 1 else None
        if binary:
            self.conv: nn.Module = BinaryConv2d(
                in_ch, out_ch, 1, pad_mode="valid",
                input_quantizer=input_sign(input_quantizer, in_ch, bias),
                weight_scale=weight_scale,
            )
        else:
            self.conv = QConv2d(in_ch, out_ch, 1, bias=False)
        self.bn = batch_norm(out_ch, bn)
        self.q_bn = Int8Point()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.q_pool(self.pool(x))
        return self.q_bn(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    """Bi-Real-style block: one 3x3 conv with an identity (or downsample) shortcut.

    Binary: ``sign → bconv3x3 → BN (+ shortcut)``; float twin: ``[act →] conv3x3 → BN``.
    An optional non-linearity sits ``'after_add'`` (FTBNN default) or ``'before_add'``.
    ``bias=True``: learnable-threshold signs and shifted non-linearity (FTBNN's / ReActNet's
    bias terms); ``shuffle=True`` (with ``groups > 1``) ends the block with
    ``channel_shuffle(groups)``, so the next grouped conv mixes the groups.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        *,
        binary: bool = True,
        input_quantizer: str = "approx",
        weight_scale: str = "channel_mean",
        groups: int = 1,
        pad_mode: str = "zero",
        nonlinearity: str = "none",
        position: str = "after_add",
        binary_downsample: bool = False,
        float_preact: bool = False,
        bn: dict[str, float] | None = None,
        bias: bool = False,
        shuffle: bool = False,
        tf_padding: bool = False,
    ) -> None:
        super().__init__()
        check_choice("position", position, POSITIONS)
        if tf_padding and not binary:
            raise ValueError("tf_padding=True is for binary blocks only")
        self.preact = nn.ReLU() if float_preact and not binary else None
        self.q_preact = Int8Point() if self.preact is not None else None
        if binary:
            conv_cls = TFSameBinaryConv2d if tf_padding else BinaryConv2d
            self.conv: nn.Module = conv_cls(
                in_ch, out_ch, 3, stride, pad_mode=pad_mode, groups=groups,
                input_quantizer=input_sign(input_quantizer, in_ch, bias),
                weight_scale=weight_scale,
            )
        else:
            self.conv = QConv2d(in_ch, out_ch, 3, stride, 1, groups=groups, bias=False)
        self.bn = batch_norm(out_ch, bn)
        self.q_bn = Int8Point()
        self.shortcut = (
            Downsample(in_ch, out_ch, stride, binary and binary_downsample, input_quantizer,
                       weight_scale, bn, bias, tf_padding)
            if stride != 1 or in_ch != out_ch
            else None
        )
        self.position = position
        self.nl = make_nonlinearity(nonlinearity, out_ch, bias)
        self.q_nl = Int8Point() if self.nl is not None else None
        self.q_add = Int8Point()
        self.shuffle = ChannelShuffle(groups) if shuffle and groups > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        if self.preact is not None:
            x = self.q_preact(self.preact(x))
        out = self.q_bn(self.bn(self.conv(x)))
        if self.nl is not None and self.position == "before_add":
            out = self.q_nl(self.nl(out))
        out = self.q_add(out + identity)
        if self.nl is not None and self.position == "after_add":
            out = self.q_nl(self.nl(out))
        if self.shuffle is not None:
            out = self.shuffle(out)
        return out


class Stem(nn.Module):
    """Real-valued int8 stem: conv (input scale folded) → BN → [max pool].

    ``tf_padding``: TF 'same' padding (:class:`~.tf_same.TFSamePad`) before the conv (zeros)
    and the max pool (``-inf``) instead of PyTorch's symmetric padding.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        stride: int,
        input_scale: tuple[float, ...],
        maxpool: bool,
        bn: dict[str, float] | None = None,
        tf_padding: bool = False,
    ) -> None:
        super().__init__()
        self.pad_conv = TFSamePad(kernel_size, stride) if tf_padding else None
        self.conv = QConv2d(
            in_ch, out_ch, kernel_size, stride, 0 if tf_padding else kernel_size // 2,
            bias=False, input_scale=input_scale,
        )
        self.bn = batch_norm(out_ch, bn)
        self.q_bn = Int8Point()
        self.pad_pool = TFSamePad(3, 2, float("-inf")) if tf_padding and maxpool else None
        self.pool = nn.MaxPool2d(3, 2, 0 if tf_padding else 1) if maxpool else None
        self.q_pool = Int8Point() if maxpool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_conv is not None:
            x = self.pad_conv(x)
        x = self.q_bn(self.bn(self.conv(x)))
        if self.pad_pool is not None:
            x = self.pad_pool(x)
        if self.pool is not None:
            x = self.q_pool(self.pool(x))
        return x


class ResNetBNN(nn.Module):
    """Normalise → stem → blocks → global average pool → classifier (int8 weights)."""

    def __init__(
        self,
        normalize: InputNormalize,
        stem: nn.Module,
        blocks: list[nn.Module],
        features: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.stem = stem
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.q_pool = Int8Point()
        self.fc = QLinear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.normalize(x))
        x = self.blocks(x)
        x = self.q_pool(self.pool(x))
        return self.fc(torch.flatten(x, 1))


def make_stages(
    stem_channels: int,
    widths: tuple[int, ...],
    blocks_per_stage: int | tuple[int, ...],
    block: Callable[..., nn.Module] = BasicBlock,
    **block_kwargs: Any,
) -> list[nn.Module]:
    """Stages of ``blocks_per_stage`` blocks (one count, or one per stage) of ``block``; every
    stage but the first starts with stride 2."""
    counts = (blocks_per_stage,) * len(widths) if isinstance(blocks_per_stage, int) \
        else blocks_per_stage
    blocks: list[nn.Module] = []
    ch = stem_channels
    for i, (w, n) in enumerate(zip(widths, counts, strict=True)):
        for j in range(n):
            stride = 2 if i > 0 and j == 0 else 1
            blocks.append(block(ch, w, stride, **block_kwargs))
            ch = w
    return blocks


#: Bi-Real blocks per stage (one binary 3x3 conv each): twice ResNet's basic blocks.
RESNET18_BLOCKS = (4, 4, 4, 4)
RESNET34_BLOCKS = (6, 8, 12, 6)


def imagenet_or_cifar_stem(in_ch: int, out_ch: int, input_scale: tuple[float, ...], cifar: bool,
                           bn: dict[str, float] | None = None, tf_padding: bool = False
                           ) -> Stem:
    """ImageNet stem conv 7x7/2 → BN → max pool 3x3/2, or with ``cifar`` (32x32 input) conv
    3x3/1 → BN without a max pool."""
    if cifar:
        return Stem(in_ch, out_ch, 3, 1, input_scale, False, bn, tf_padding)
    return Stem(in_ch, out_ch, 7, 2, input_scale, True, bn, tf_padding)


def check_common(num_classes: Any, in_channels: Any) -> None:
    """Validate the arguments every builder takes."""
    check_positive_int("num_classes", num_classes)
    check_positive_int("in_channels", in_channels)


def check_width_groups(width: Any, groups: Any) -> None:
    """Validate FTBNN's ``width`` and ``groups``."""
    check_positive_float("width", width)
    check_positive_int("groups", groups)


def check_bool(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
