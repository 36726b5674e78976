"""bnnflow.models: Bi-Real-Net-18/34, the FTBNN-18/34 family, ReActNet-18, QuickNet, small
digits nets (``*_cifar``: 32x32 variants) and float ResNet-18/34 teachers with torchvision's
layer names.

Every model takes NCHW float raw pixel values 0..255 and starts with
:class:`~bnnflow.nn.InputNormalize` (the float ResNets: :class:`.resnet.PixelNormalize`, the
exact torchvision normalisation). See docs/nn.md.
"""

from __future__ import annotations

from .birealnet import birealnet18, birealnet34, birealnet_small, birealnet_small_float
from .ftbnn import ftbnn18, ftbnn34, ftbnn_small, ftbnn_small_float
from .keras import KerasImportError, from_keras
from .quicknet import quicknet
from .reactnet import reactnet18, reactnet_small
from .registry import available, build
from .resnet import resnet18, resnet34

__all__ = [
    "KerasImportError",
    "available",
    "birealnet18",
    "birealnet34",
    "birealnet_small",
    "birealnet_small_float",
    "build",
    "from_keras",
    "ftbnn18",
    "ftbnn34",
    "ftbnn_small",
    "ftbnn_small_float",
    "quicknet",
    "reactnet18",
    "reactnet_small",
    "resnet18",
    "resnet34",
]
