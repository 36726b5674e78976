"""bnnflow.models: Bi-Real-Net-18, the FTBNN-18 family, QuickNet, small digits nets and float
ResNet-18/34 teachers with torchvision's layer names.

Every model takes NCHW float raw pixel values 0..255 and starts with
:class:`~bnnflow.nn.InputNormalize` (the float ResNets: :class:`.resnet.PixelNormalize`, the
exact torchvision normalisation). See docs/nn.md.
"""

from __future__ import annotations

from .birealnet import birealnet18, birealnet_small, birealnet_small_float
from .ftbnn import ftbnn18, ftbnn_small, ftbnn_small_float
from .quicknet import quicknet
from .registry import available, build
from .resnet import resnet18, resnet34

__all__ = [
    "available",
    "birealnet18",
    "birealnet_small",
    "birealnet_small_float",
    "build",
    "ftbnn18",
    "ftbnn_small",
    "ftbnn_small_float",
    "quicknet",
    "resnet18",
    "resnet34",
]
