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
    ResNetBNN,
    Stem,
    check_bool,
    check_common,
    check_width_groups,
    make_stages,
    scaled_width,
)


def _check_ftbnn(
    nonlinearity: str, position: str, groups: int, width: float, binary_downsample: bool
) -> None:
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    check_choice("position", position, POSITIONS)
    check_width_groups(width, groups)
    check_bool("binary_downsample", binary_downsample)


def ftbnn18(
    num_classes: int = 1000,
    nonlinearity: str = "two_sided_prelu",
    position: str = "after_add",
    groups: int = 1,
    width: float = 1.0,
    binary_downsample: bool = False,
    in_channels: int = 3,
) -> nn.Module:
    """FTBNN ResNet-18 for 224x224 input (see the module docstring for the defaults)."""
    check_common(num_classes, in_channels)
    _check_ftbnn(nonlinearity, position, groups, width, binary_downsample)
    widths = tuple(scaled_width(b, width, groups) for b in (64, 128, 256, 512))
    norm = _imagenet_norm(in_channels)
    stem = Stem(in_channels, widths[0], 7, 2, tuple(norm.scale.tolist()), maxpool=True)
    blocks = make_stages(
        widths[0], widths, 4, binary=True, input_quantizer="approx",
        weight_scale="channel_mean", groups=groups, nonlinearity=nonlinearity,
        position=position, binary_downsample=binary_downsample,
    )
    return ResNetBNN(norm, stem, blocks, widths[-1], num_classes)


def _small(
    num_classes: int, in_channels: int, binary: bool, nonlinearity: str, position: str,
    groups: int, width: float, binary_downsample: bool,
) -> nn.Module:
    widths = tuple(scaled_width(b, width, groups) for b in (32, 64, 128))
    norm = InputNormalize([DIGITS_ZERO_POINT] * in_channels, [DIGITS_SCALE] * in_channels)
    stem = Stem(in_channels, widths[0], 3, 1, tuple(norm.scale.tolist()), maxpool=False)
    blocks = make_stages(
        widths[0], widths, 2, binary=binary, input_quantizer="approx",
        weight_scale="channel_mean", groups=groups, nonlinearity=nonlinearity,
        position=position, binary_downsample=binary_downsample,
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
) -> nn.Module:
    """FTBNN for 8x8 input: stem conv 3x3 (32), 3 stages x 2 binary blocks (32/64/128)."""
    check_common(num_classes, in_channels)
    _check_ftbnn(nonlinearity, position, groups, width, binary_downsample)
    return _small(num_classes, in_channels, True, nonlinearity, position, groups, width,
                  binary_downsample)


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
