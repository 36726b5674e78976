"""FTBNN-18 family: Bi-Real-style ResNet-18 with explicit learnable non-linear modules.

FTBNN (Su et al., arXiv 2010.09294) adds a per-channel non-linearity to every Bi-Real block,
best after the residual add, uses group execution (grouped binary 3x3 convs on wider layers)
and binary operations where Bi-Real keeps real ones (the downsample 1x1 convs). The paper's
exact hyperparameters are not public in code; bnnflow exposes them as options with defaults:

- ``nonlinearity='two_sided_prelu'`` (both slopes learnable, the paper's choice),
  ``position='after_add'`` (the paper's best placement);
- ``groups=1, width=1.0`` (plain ResNet-18 widths); group execution is ``groups>1`` with
  ``width>1`` to keep the capacity (e.g. ``groups=4, width=2.0``); channels are rounded to a
  multiple of ``groups``; the stem and 1x1 downsample convs are not grouped, so they mix the
  groups;
- ``binary_downsample=False`` (real 1x1 downsample as Bi-Real);
- ``bias=False``: ``True`` adds the learnable bias terms of FTBNN's code (ReActNet's form): a
  per-channel threshold before every sign (``sign(x - alpha)``) and shifts around the
  non-linearity (``f(x - gamma) + zeta``); they fold exactly into the int8 data-flow (the
  packing threshold and the ``pwl`` op's parameters, docs/nn.md);
- ``shuffle=False``: ``True`` (with ``groups > 1``) ends every block with
  ``channel_shuffle(groups)`` (ShuffleNet), so the grouped convs exchange information;
- ``ftbnn34``: the same on ResNet-34's depth; ``cifar=True``: 3x3/1 stem, no max pool;
- binary convs as Bi-Real: ``approx_sign`` input, per-channel ``mean|W|`` weight scale,
  zero padding; stem as Bi-Real (conv 7x7/2, BN, max pool 3x3/2, no non-linearity).
"""

from __future__ import annotations

from torch import nn

from bnnflow.nn import InputNormalize
from bnnflow.nn._checks import check_choice

from .birealnet import _imagenet_norm
from .blocks import (
    DIGITS_SCALE,
    DIGITS_ZERO_POINT,
    NONLINEARITIES,
    POSITIONS,
    RESNET18_BLOCKS,
    RESNET34_BLOCKS,
    ResNetBNN,
    Stem,
    check_bool,
    check_common,
    check_width_groups,
    imagenet_or_cifar_stem,
    make_stages,
    scaled_width,
)


def _check_ftbnn(
    nonlinearity: str, position: str, groups: int, width: float, binary_downsample: bool,
    bias: bool = False, shuffle: bool = False,
) -> None:
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    check_choice("position", position, POSITIONS)
    check_width_groups(width, groups)
    check_bool("binary_downsample", binary_downsample)
    check_bool("bias", bias)
    check_bool("shuffle", shuffle)
    if shuffle and groups == 1:
        raise ValueError("shuffle=True mixes the channels of grouped convs; it needs groups > 1")
    if bias and nonlinearity == "relu":
        raise ValueError("bias=True has no shifted form of nonlinearity='relu'; use 'prelu' "
                         "(RPReLU) or 'two_sided_prelu'")


def _ftbnn(
    num_classes: int, in_channels: int, blocks: tuple[int, ...], nonlinearity: str,
    position: str, groups: int, width: float, binary_downsample: bool, bias: bool,
    shuffle: bool, cifar: bool,
) -> nn.Module:
    check_common(num_classes, in_channels)
    _check_ftbnn(nonlinearity, position, groups, width, binary_downsample, bias, shuffle)
    check_bool("cifar", cifar)
    widths = tuple(scaled_width(b, width, groups) for b in (64, 128, 256, 512))
    norm = _imagenet_norm(in_channels)
    stem = imagenet_or_cifar_stem(in_channels, widths[0], tuple(norm.scale.tolist()), cifar)
    stages = make_stages(
        widths[0], widths, blocks, binary=True, input_quantizer="approx",
        weight_scale="channel_mean", groups=groups, nonlinearity=nonlinearity,
        position=position, binary_downsample=binary_downsample, bias=bias, shuffle=shuffle,
    )
    return ResNetBNN(norm, stem, stages, widths[-1], num_classes)


def ftbnn18(
    num_classes: int = 1000,
    nonlinearity: str = "two_sided_prelu",
    position: str = "after_add",
    groups: int = 1,
    width: float = 1.0,
    binary_downsample: bool = False,
    in_channels: int = 3,
    bias: bool = False,
    shuffle: bool = False,
    cifar: bool = False,
) -> nn.Module:
    """FTBNN ResNet-18 for 224x224 input (see the module docstring for the defaults);
    ``cifar=True``: stem conv 3x3/1 without max pool, for 32x32 input."""
    return _ftbnn(num_classes, in_channels, RESNET18_BLOCKS, nonlinearity, position, groups,
                  width, binary_downsample, bias, shuffle, cifar)


def ftbnn34(
    num_classes: int = 1000,
    nonlinearity: str = "two_sided_prelu",
    position: str = "after_add",
    groups: int = 1,
    width: float = 1.0,
    binary_downsample: bool = False,
    in_channels: int = 3,
    bias: bool = False,
    shuffle: bool = False,
    cifar: bool = False,
) -> nn.Module:
    """FTBNN on ResNet-34's depth: (6, 8, 12, 6) blocks of one binary 3x3 conv each; the
    options of :func:`ftbnn18`."""
    return _ftbnn(num_classes, in_channels, RESNET34_BLOCKS, nonlinearity, position, groups,
                  width, binary_downsample, bias, shuffle, cifar)


def _small(
    num_classes: int, in_channels: int, binary: bool, nonlinearity: str, position: str,
    groups: int, width: float, binary_downsample: bool, bias: bool = False,
    shuffle: bool = False,
) -> nn.Module:
    widths = tuple(scaled_width(b, width, groups) for b in (32, 64, 128))
    norm = InputNormalize([DIGITS_ZERO_POINT] * in_channels, [DIGITS_SCALE] * in_channels)
    stem = Stem(in_channels, widths[0], 3, 1, tuple(norm.scale.tolist()), maxpool=False)
    blocks = make_stages(
        widths[0], widths, 2, binary=binary, input_quantizer="approx",
        weight_scale="channel_mean", groups=groups, nonlinearity=nonlinearity,
        position=position, binary_downsample=binary_downsample, bias=bias, shuffle=shuffle,
    )
    return ResNetBNN(norm, stem, blocks, widths[-1], num_classes)


def ftbnn_small(
    num_classes: int = 10,
    nonlinearity: str = "two_sided_prelu",
    position: str = "after_add",
    groups: int = 1,
    width: float = 1.0,
    binary_downsample: bool = False,
    in_channels: int = 1,
    bias: bool = False,
    shuffle: bool = False,
) -> nn.Module:
    """FTBNN for 8x8 input: stem conv 3x3 (32), 3 stages x 2 binary blocks (32/64/128)."""
    check_common(num_classes, in_channels)
    _check_ftbnn(nonlinearity, position, groups, width, binary_downsample, bias, shuffle)
    return _small(num_classes, in_channels, True, nonlinearity, position, groups, width,
                  binary_downsample, bias, shuffle)


def ftbnn_small_float(
    num_classes: int = 10,
    nonlinearity: str = "two_sided_prelu",
    position: str = "after_add",
    in_channels: int = 1,
) -> nn.Module:
    """Float twin of :func:`ftbnn_small`: real 3x3 convs, same non-linear modules."""
    check_common(num_classes, in_channels)
    _check_ftbnn(nonlinearity, position, 1, 1.0, False)
    if nonlinearity == "none":
        raise ValueError("nonlinearity='none' would make the float twin linear; choose one of "
                         f"{[n for n in NONLINEARITIES if n != 'none']}")
    return _small(num_classes, in_channels, False, nonlinearity, position, 1, 1.0, False)
