"""QuickNet (larq-zoo ``larq_zoo/sota/quicknet.py``, v1.0), layer for layer.

- stem: conv 3x3/2 (16, real) → BN → ReLU → depthwise conv 3x3/2 → BN (no scale/centre) →
  conv 1x1 (64) → BN;
- sections of (4, 4, 4, 4) residual blocks with (64, 128, 256, 512) channels; a section whose
  width differs from its input starts with a transition block;
- residual block: ``ste_sign(clip 1.25) → binary conv 3x3 (pad_values=1 → pad_mode='one', no
  weight scale, weight clip 1.25) → ReLU → BN → + x``;
- transition block: ReLU → max pool 2x2/1 (valid) → fixed depthwise blur-pool 3x3/2
  ([1,2,1]⊗[1,2,1]/16, not trained) → conv 1x1 → BN;
- head: ReLU → global average pool → dense (with bias).

The ReLU between a binary conv and its BN is the conv's epilogue clamp (numerics.md §4), so no
Int8Point sits between them. Deliberate differences: symmetric PyTorch padding (TF 'same'
pads the extra row/column bottom/right on even inputs with stride 2), logits instead of
softmax, and :class:`~bnnflow.nn.InputNormalize` in front.
"""

from __future__ import annotations

import torch
from torch import nn

from bnnflow.nn import BinaryConv2d, InputNormalize, Int8Point, QConv2d, QLinear, SignActivation
from bnnflow.nn._checks import check_positive_int

from .blocks import IMAGENET_SCALE, IMAGENET_ZERO_POINT, check_common
from .tf_same import TFSamePad

# Keras BatchNormalization() defaults (stem) and (momentum=0.9, epsilon=1e-5) (blocks).
KERAS_DEFAULT_BN = {"momentum": 0.01, "eps": 1e-3}
SECTION_BLOCKS = (4, 4, 4, 4)
SECTION_FILTERS = (64, 128, 256, 512)
CLIP_VALUE = 1.25


class QuickNetStem(nn.Module):
    """conv 3x3/2 → BN → ReLU → depthwise 3x3/2 → BN(affine=False) → conv 1x1 → BN."""

    def __init__(self, in_ch: int, filters: int, input_scale: tuple[float, ...],
                 tf_padding: bool = False) -> None:
        super().__init__()
        c = filters // 4
        p = 0 if tf_padding else 1
        self.pad1 = TFSamePad(3, 2) if tf_padding else None
        self.conv1 = QConv2d(in_ch, c, 3, 2, p, bias=False, input_scale=input_scale)
        self.bn1 = nn.BatchNorm2d(c, **KERAS_DEFAULT_BN)
        self.q_bn1 = Int8Point()
        self.act = nn.ReLU()
        self.q_act = Int8Point()
        self.pad2 = TFSamePad(3, 2) if tf_padding else None
        self.dwconv = QConv2d(c, c, 3, 2, p, groups=c, bias=False)
        self.bn2 = nn.BatchNorm2d(c, affine=False, **KERAS_DEFAULT_BN)
        self.q_bn2 = Int8Point()
        self.conv3 = QConv2d(c, filters, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(filters, **KERAS_DEFAULT_BN)
        self.q_bn3 = Int8Point()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad1 is not None:
            x = self.pad1(x)
        x = self.q_act(self.act(self.q_bn1(self.bn1(self.conv1(x)))))
        if self.pad2 is not None:
            x = self.pad2(x)
        x = self.q_bn2(self.bn2(self.dwconv(x)))
        return self.q_bn3(self.bn3(self.conv3(x)))


class QuickNetBlock(nn.Module):
    """``x + BN(ReLU(bconv3x3(ste_sign(x))))`` with 'one' padding."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = BinaryConv2d(
            channels, channels, 3, pad_mode="one",
            input_quantizer=SignActivation("ste", clip_value=CLIP_VALUE),
            weight_scale="none", weight_clip_value=CLIP_VALUE,
        )
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm2d(channels, momentum=0.1, eps=1e-5)
        self.q_bn = Int8Point()
        self.q_add = Int8Point()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.q_bn(self.bn(self.act(self.conv(x))))
        return self.q_add(out + x)


def blurpool_weight(channels: int) -> torch.Tensor:
    """Depthwise 3x3 anti-aliasing kernel ``[1,2,1]⊗[1,2,1] / 16`` per channel."""
    k = torch.tensor([1.0, 2.0, 1.0])
    k2 = torch.outer(k, k) / 16.0
    return k2.expand(channels, 1, 3, 3).clone()


class QuickNetTransition(nn.Module):
    """ReLU → max pool 2x2/1 → fixed blur-pool depthwise 3x3/2 → conv 1x1 → BN."""

    def __init__(self, in_ch: int, out_ch: int, tf_padding: bool = False) -> None:
        super().__init__()
        self.act = nn.ReLU()
        self.q_act = Int8Point()
        self.pool = nn.MaxPool2d(2, 1)
        self.q_pool = Int8Point()
        self.pad = TFSamePad(3, 2) if tf_padding else None
        self.blur = QConv2d(in_ch, in_ch, 3, 2, 0 if tf_padding else 1, groups=in_ch, bias=False)
        with torch.no_grad():
            self.blur.weight.copy_(blurpool_weight(in_ch))
        self.blur.weight.requires_grad_(False)
        self.q_blur = Int8Point()
        self.conv = QConv2d(in_ch, out_ch, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.q_bn = Int8Point()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.q_pool(self.pool(self.q_act(self.act(x))))
        if self.pad is not None:
            x = self.pad(x)
        x = self.q_blur(self.blur(x))
        return self.q_bn(self.bn(self.conv(x)))


class QuickNet(nn.Module):
    """larq-zoo QuickNet for 224x224 input (see the module docstring)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3,
                 section_filters: tuple[int, ...] = SECTION_FILTERS,
                 section_blocks: tuple[int, ...] = SECTION_BLOCKS,
                 tf_padding: bool = False) -> None:
        super().__init__()
        if len(section_filters) != len(section_blocks) or not section_filters:
            raise ValueError(f"section_filters {section_filters} and section_blocks "
                             f"{section_blocks} need the same non-zero length")
        for f in section_filters:
            check_positive_int("section_filters", f)
            if f % 4:
                raise ValueError(f"section_filters must be multiples of 4, got {f}")
        for n in section_blocks:
            check_positive_int("section_blocks", n)
        if in_channels == 3:
            self.normalize = InputNormalize(IMAGENET_ZERO_POINT, IMAGENET_SCALE)
        else:
            self.normalize = InputNormalize([128] * in_channels, [1 / 64] * in_channels)
        scale = tuple(self.normalize.scale.tolist())
        self.stem = QuickNetStem(in_channels, section_filters[0], scale, tf_padding)
        layers: list[nn.Module] = []
        ch = section_filters[0]
        for n, filters in zip(section_blocks, section_filters, strict=True):
            for _ in range(n):
                if filters != ch:
                    layers.append(QuickNetTransition(ch, filters, tf_padding))
                    ch = filters
                layers.append(QuickNetBlock(ch))
        self.blocks = nn.Sequential(*layers)
        self.act = nn.ReLU()
        self.q_act = Int8Point()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.q_pool = Int8Point()
        self.fc = QLinear(ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.normalize(x)))
        x = self.q_pool(self.pool(self.q_act(self.act(x))))
        return self.fc(torch.flatten(x, 1))


def quicknet(num_classes: int = 1000, in_channels: int = 3,
             section_filters: tuple[int, ...] = SECTION_FILTERS,
             section_blocks: tuple[int, ...] = SECTION_BLOCKS,
             tf_padding: bool = False) -> nn.Module:
    """QuickNet (larq-zoo topology, v1.0 = zoo 2.4) for 224x224 input.

    ``section_filters`` / ``section_blocks``: larq-zoo's fields of the same names (multiples
    of 4). ``tf_padding=True``: TF 'same' padding in the stride-2 stem convs and blur pools,
    as the Keras model (:mod:`~bnnflow.models.tf_same`), for
    :func:`~bnnflow.models.from_keras`; the 3x3/1 binary convs pad the same either way. Such a
    model does not convert to ``.bnn`` yet."""
    check_common(num_classes, in_channels)
    if not isinstance(tf_padding, bool):
        raise ValueError(f"tf_padding must be True or False, got {tf_padding!r}")
    return QuickNet(num_classes, in_channels, tuple(section_filters), tuple(section_blocks),
                    tf_padding)
