"""bnnflow.nn: binary layers, quantizers, non-linearities and the int8 fake-quant data-flow.

Pure torch (no custom autograd functions), so ``torch.fx`` and ``torch.export`` trace every
model; each quantizer, non-linearity and int8 point is its own module (a leaf for capture).
See docs/nn.md.
"""

from __future__ import annotations

from .binary import (
    PAD_MODES,
    WEIGHT_SCALES,
    BinaryConv2d,
    BinaryConvSpec,
    BinaryLinear,
    BinaryLinearSpec,
    clip_latent_weights_,
    set_real_weights,
)
from .int8 import (
    INT8_MODES,
    Int8Point,
    QConv2d,
    QLinear,
    calibrate,
    disable_int8,
    enable_int8,
    fake_quant_int8,
    freeze_int8,
    round_half_up,
)
from .nonlinear import PiecewiseLinear, PReLU, RPReLU, TwoSidedPReLU, piecewise_linear
from .normalize import InputNormalize
from .quantizers import QUANTIZER_KINDS, SignActivation, approx_sign, sign, ste_sign
from .shuffle import ChannelShuffle, channel_shuffle

__all__ = [
    "INT8_MODES",
    "PAD_MODES",
    "QUANTIZER_KINDS",
    "WEIGHT_SCALES",
    "BinaryConv2d",
    "BinaryConvSpec",
    "BinaryLinear",
    "BinaryLinearSpec",
    "ChannelShuffle",
    "InputNormalize",
    "Int8Point",
    "PReLU",
    "PiecewiseLinear",
    "QConv2d",
    "QLinear",
    "RPReLU",
    "SignActivation",
    "TwoSidedPReLU",
    "approx_sign",
    "calibrate",
    "channel_shuffle",
    "clip_latent_weights_",
    "disable_int8",
    "enable_int8",
    "fake_quant_int8",
    "freeze_int8",
    "piecewise_linear",
    "round_half_up",
    "set_real_weights",
    "sign",
    "ste_sign",
]
