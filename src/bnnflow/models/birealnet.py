"""Bi-Real-Net-18 (larq-zoo ``BiRealNet``), Bi-Real-Net-34 and the small digits variants.

larq-zoo's topology, layer for layer: stem conv 7x7/2 (64) → BN → max pool 3x3/2; 16 blocks of
``approx_sign → binary conv 3x3 (magnitude-aware sign, i.e. weight_scale='channel_mean',
zero padding) → BN → + shortcut``, widths 64/128/256/512 (4 blocks each, the first of stages
2-4 with stride 2); downsample shortcut ``AvgPool 2x2/2 → conv 1x1 → BN``; global average
pool → dense. No other non-linearity. Deliberate differences: PyTorch's symmetric padding
(TF 'same' pads the extra row/column only at the bottom/right for even inputs and stride 2),
logits instead of softmax, and the input normalisation (:class:`~bnnflow.nn.InputNormalize`).
"""

from __future__ import annotations

from torch import nn

from bnnflow.nn import InputNormalize
from bnnflow.nn._checks import check_positive_int

from .blocks import (
    DIGITS_SCALE,
    DIGITS_ZERO_POINT,
    IMAGENET_SCALE,
    IMAGENET_ZERO_POINT,
    RESNET18_BLOCKS,
    RESNET34_BLOCKS,
    ResNetBNN,
    Stem,
    check_bool,
    check_common,
    imagenet_or_cifar_stem,
    make_stages,
)


def _imagenet_norm(in_channels: int) -> InputNormalize:
    if in_channels == 3:
        return InputNormalize(IMAGENET_ZERO_POINT, IMAGENET_SCALE)
    return InputNormalize([128] * in_channels, [1 / 64] * in_channels)


# larq-zoo's BatchNormalization(momentum=0.8) with Keras' default epsilon.
LARQ_BIREAL_BN = {"momentum": 0.2, "eps": 1e-3}


def _birealnet(num_classes: int, in_channels: int, blocks: tuple[int, ...], cifar: bool,
               filters: int, tf_padding: bool) -> nn.Module:
    check_common(num_classes, in_channels)
    check_bool("cifar", cifar)
    check_bool("tf_padding", tf_padding)
    check_positive_int("filters", filters)
    norm = _imagenet_norm(in_channels)
    stem = imagenet_or_cifar_stem(in_channels, filters, tuple(norm.scale.tolist()), cifar,
                                  LARQ_BIREAL_BN, tf_padding)
    widths = (filters, 2 * filters, 4 * filters, 8 * filters)
    stages = make_stages(
        filters, widths, blocks, binary=True, input_quantizer="approx",
        weight_scale="channel_mean", bn=LARQ_BIREAL_BN, tf_padding=tf_padding,
    )
    return ResNetBNN(norm, stem, stages, widths[-1], num_classes)


def birealnet18(num_classes: int = 1000, in_channels: int = 3, cifar: bool = False,
                filters: int = 64, tf_padding: bool = False) -> nn.Module:
    """Bi-Real-Net-18 for 224x224 input (larq-zoo topology, see module docstring);
    ``cifar=True``: stem conv 3x3/1 without max pool, for 32x32 input. ``filters``: the
    stem's width (larq-zoo's ``filters`` field; stages ``filters·(1, 2, 4, 8)``).
    ``tf_padding=True``: TF 'same' padding everywhere, as the Keras model (extra row/column at
    the bottom/right at stride 2; :mod:`~bnnflow.models.tf_same`), for
    :func:`~bnnflow.models.from_keras` (such a model does not convert to ``.bnn`` yet)."""
    return _birealnet(num_classes, in_channels, RESNET18_BLOCKS, cifar, filters, tf_padding)


def birealnet34(num_classes: int = 1000, in_channels: int = 3, cifar: bool = False,
                filters: int = 64, tf_padding: bool = False) -> nn.Module:
    """Bi-Real-Net-34: the Bi-Real-Net-18 design on ResNet-34's depth — (6, 8, 12, 6) blocks
    of one binary 3x3 conv each (twice ResNet-34's (3, 4, 6, 3) basic blocks); ``filters``
    and ``tf_padding`` as :func:`birealnet18`."""
    return _birealnet(num_classes, in_channels, RESNET34_BLOCKS, cifar, filters, tf_padding)


def _small(num_classes: int, in_channels: int, binary: bool) -> nn.Module:
    norm = InputNormalize([DIGITS_ZERO_POINT] * in_channels, [DIGITS_SCALE] * in_channels)
    stem = Stem(in_channels, 32, 3, 1, tuple(norm.scale.tolist()), maxpool=False)
    blocks = make_stages(
        32, (32, 64, 128), 2, binary=binary, input_quantizer="approx",
        weight_scale="channel_mean", float_preact=not binary,
    )
    return ResNetBNN(norm, stem, blocks, 128, num_classes)


def birealnet_small(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """Bi-Real-style BNN for 8x8 input: stem conv 3x3 (32), 3 stages x 2 binary blocks
    (32/64/128 channels, 8x8 → 4x4 → 2x2), real downsample, no extra non-linearity."""
    check_common(num_classes, in_channels)
    return _small(num_classes, in_channels, binary=True)


def birealnet_small_float(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """Float twin of :func:`birealnet_small`: real 3x3 convs, ReLU where the sign was."""
    check_common(num_classes, in_channels)
    return _small(num_classes, in_channels, binary=False)
