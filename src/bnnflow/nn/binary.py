"""Binary convolution and dense layers (docs/numerics.md §4).

Both layers compute, in the float training graph, the exact integer ``d`` of the engine:

    d = conv(sign_in(x), sign(W))                   (±1 operands, integer-valued)
    q = clamp(d, -128, 127)      if clip            (BNN-Clip clipping block)
    y = q * scale[c]                                (per-output-channel weight scale)

``sign(W)`` uses the straight-through estimator (gradient 1 where ``|W| <= weight_clip_value``).
The clipping block passes the gradient inside ``[-128, 127]`` and blocks it outside.

**Real-weight mode** (step 1 of the two-step schedule of ReActNet / Real-to-Binary,
:func:`set_real_weights`): the activations stay binary but the latent weights are used as
they are, ``y = conv(sign_in(x), W)``: the real ``W`` stands for ``scale[c]·sign(W)``, so
neither the scale nor the clipping block applies. A layer in this mode has no binary
deployment: :meth:`deploy_spec`, :meth:`integer_output` and ``enable_int8`` refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_positive_float, check_positive_int
from .quantizers import QUANTIZER_KINDS, SignActivation, sign, ste_sign

WEIGHT_SCALES = ("none", "channel_mean", "learnable")
PAD_MODES = ("zero", "one", "valid")
CLIP_MIN, CLIP_MAX = -128.0, 127.0


@dataclass(frozen=True)
class BinaryConvSpec:
    """Everything the converter needs about a :class:`BinaryConv2d`.

    ``y[c] = clamp?(d[c]) * scale[c]``, ``d`` as in docs/numerics.md §4 on the input binarised
    with ``+1 iff x >= input_threshold[c]`` (plain sign: threshold 0).
    """

    weight_sign: torch.Tensor  # int8 ±1, [Cout, Cin/groups, KH, KW]
    scale: torch.Tensor  # float32 [Cout]; ones for weight_scale='none'
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: int
    padding: int | list[int]  # symmetric, or [top, left, bottom, right]; 0 for 'valid'
    pad_mode: str  # 'zero' | 'one' | 'valid'
    groups: int
    clip: bool
    input_quantizer: str | None  # 'ste' | 'approx' | None (input is already ±1)
    input_threshold: torch.Tensor | None  # float32 [Cin], None when input_quantizer is None


@dataclass(frozen=True)
class BinaryLinearSpec:
    """Everything the converter needs about a :class:`BinaryLinear` (``d = K - 2·popcount``)."""

    weight_sign: torch.Tensor  # int8 ±1, [Cout, Cin]
    scale: torch.Tensor  # float32 [Cout]
    in_features: int
    out_features: int
    clip: bool
    input_quantizer: str | None
    input_threshold: torch.Tensor | None  # float32 [Cin]


def _make_quantizer(
    input_quantizer: str | SignActivation | None, channels: int
) -> SignActivation | None:
    if input_quantizer is None or isinstance(input_quantizer, SignActivation):
        if input_quantizer is not None and input_quantizer.shift is not None:
            input_quantizer.threshold(channels)  # validates the channel count
        return input_quantizer
    check_choice("input_quantizer", input_quantizer, (*QUANTIZER_KINDS, None))
    return SignActivation(input_quantizer)


class _BinaryBase(nn.Module):
    """Shared weight binarisation, scaling and input handling of the binary layers."""

    weight: nn.Parameter
    _scale_shape: tuple[int, ...]  # broadcast shape of the per-channel scale

    def _init_common(
        self,
        in_channels: int,
        input_quantizer: str | SignActivation | None,
        weight_scale: str,
        clip: bool,
        weight_clip_value: float,
    ) -> None:
        check_choice("weight_scale", weight_scale, WEIGHT_SCALES)
        self.weight_clip_value = check_positive_float("weight_clip_value", weight_clip_value)
        self.quantizer = _make_quantizer(input_quantizer, in_channels)
        self.weight_scale = weight_scale
        self.clip = bool(clip)
        self.real_weights = False  # see set_real_weights (two-step schedule, step 1)
        if weight_scale == "learnable":
            self.scale = nn.Parameter(self._channel_mean().clone())
        else:
            self.register_parameter("scale", None)

    def _channel_mean(self) -> torch.Tensor:
        return self.weight.detach().abs().flatten(1).mean(dim=1)

    def binary_weight(self) -> torch.Tensor:
        """``sign(W)`` (±1 floats) with the straight-through gradient."""
        return ste_sign(self.weight, self.weight_clip_value)

    def forward_weight(self) -> torch.Tensor:
        """The weight of the forward: ``sign(W)`` (STE), or ``W`` itself in real-weight mode."""
        return self.weight if self.real_weights else self.binary_weight()

    def _check_binary(self, what: str) -> None:
        if self.real_weights:
            raise ValueError(
                f"{type(self).__name__}: {what} needs binary weights, but the layer is in "
                "real-weight mode (step 1 of the two-step schedule); train step 2 (binary "
                "weights) or call bnnflow.nn.set_real_weights(model, False) first"
            )

    def output_scale(self) -> torch.Tensor | None:
        """Per-output-channel scale: ``None`` ('none'), detached ``mean|W|``, or the parameter."""
        if self.weight_scale == "none":
            return None
        if self.weight_scale == "channel_mean":
            return self._channel_mean()
        return self.scale

    def _binarize_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.quantizer is None else self.quantizer(x)

    def _finish(self, d: torch.Tensor) -> torch.Tensor:
        if self.real_weights:  # W already carries the magnitude scale·sign(W) stands for
            return d
        if self.clip:
            d = torch.clamp(d, CLIP_MIN, CLIP_MAX)
        s = self.output_scale()
        if s is None:
            return d
        return d * s.view(self._scale_shape)

    def _deploy_common(self) -> dict:
        self._check_binary("deploy_spec (conversion)")
        s = self.output_scale()
        scale = torch.ones(self.weight.shape[0]) if s is None else s.detach().clone()
        cin = self._in_channels()
        return {
            "weight_sign": sign(self.weight.detach()).to(torch.int8),
            "scale": scale.to(torch.float32),
            "clip": self.clip,
            "input_quantizer": None if self.quantizer is None else self.quantizer.kind,
            "input_threshold": None if self.quantizer is None else self.quantizer.threshold(cin),
        }

    def _in_channels(self) -> int:
        raise NotImplementedError

    def _signs_for_integer(self, x: torch.Tensor) -> torch.Tensor:
        """±1 float64 input for :meth:`integer_output` (binarise or validate)."""
        self._check_binary("integer_output")
        x = x.detach()
        if self.quantizer is None:
            if not bool(torch.all((x == 1) | (x == -1))):
                raise ValueError("input must hold only ±1 values when input_quantizer is None")
            return x.to(torch.float64)
        t = self.quantizer.threshold(self._in_channels()).to(torch.float64)
        xd = x.to(torch.float64)
        return torch.where(xd >= t.view(1, -1, *([1] * (x.dim() - 2))), 1.0, -1.0).to(
            torch.float64
        )


class BinaryConv2d(_BinaryBase):
    """Bias-free binary 2-D convolution (docs/numerics.md §4).

    Args:
        in_channels, out_channels, kernel_size: as ``nn.Conv2d`` (kernel int or pair).
        stride: int stride (both axes).
        padding: symmetric padding; default ``kernel_size // 2``; must be 0/None for 'valid'.
        pad_mode: ``'zero'`` (padded taps contribute 0, PyTorch semantics), ``'one'`` (padded
            taps are +1, Larq ``pad_values=1``) or ``'valid'`` (no padding).
        groups: grouped convolution (``in_channels`` and ``out_channels`` divisible by it).
        input_quantizer: ``'ste'``, ``'approx'``, a :class:`SignActivation` (e.g. with a
            learnable shift or another clip value), or ``None`` (input is already ±1).
        weight_scale: ``'none'``, ``'channel_mean'`` (per-output-channel ``mean|W|`` of the
            latent weights, no gradient, as Larq's magnitude-aware sign) or ``'learnable'``.
        clip: apply the clipping block ``clamp(d, -128, 127)`` (BNN-Clip stage 2).
        weight_clip_value: gradient window of the weight STE, and the latent-weight clip of
            :func:`clip_latent_weights_`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | None = None,
        pad_mode: str = "zero",
        groups: int = 1,
        input_quantizer: str | SignActivation | None = "ste",
        weight_scale: str = "none",
        clip: bool = False,
        weight_clip_value: float = 1.0,
    ) -> None:
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        check_positive_int("stride", stride)
        check_positive_int("groups", groups)
        check_choice("pad_mode", pad_mode, PAD_MODES)
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        check_positive_int("kernel_size", kh)
        check_positive_int("kernel_size", kw)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        padding = self._resolve_padding(padding, pad_mode, kh, kw)
        self._scale_shape = (1, -1, 1, 1)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (kh, kw)
        self.stride, self.padding, self.pad_mode, self.groups = stride, padding, pad_mode, groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self._init_common(in_channels, input_quantizer, weight_scale, clip, weight_clip_value)

    @staticmethod
    def _resolve_padding(padding: int | None, pad_mode: str, kh: int, kw: int) -> int:
        if pad_mode == "valid":
            if padding not in (None, 0):
                raise ValueError(f"padding must be None or 0 with pad_mode='valid', got {padding}")
            return 0
        if padding is None:
            if kh != kw:
                raise ValueError("padding must be given explicitly for non-square kernels")
            return kh // 2
        return check_positive_int("padding", padding, minimum=0)

    def _in_channels(self) -> int:
        return self.in_channels

    def _conv_signs(self, xb: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
        p = self.padding
        if self.pad_mode == "one" and p > 0:
            xb = F.pad(xb, (p, p, p, p), value=1.0)
            p = 0
        return F.conv2d(xb, wb, None, self.stride, p, 1, self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self._conv_signs(self._binarize_input(x), self.forward_weight())
        return self._finish(d)

    def deploy_spec(self) -> BinaryConvSpec:
        """The converter's view of this layer (detached tensors)."""
        return BinaryConvSpec(
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            pad_mode=self.pad_mode,
            groups=self.groups,
            **self._deploy_common(),
        )

    @torch.no_grad()
    def integer_output(self, x: torch.Tensor) -> torch.Tensor:
        """The exact integer ``d`` (int32 NCHW, before clip and scale) of numerics.md §4.

        ``x`` is binarised with the layer's threshold, or must be ±1 without a quantizer.
        """
        xb = self._signs_for_integer(x)
        wb = sign(self.weight.detach()).to(torch.float64)
        return torch.round(self._conv_signs(xb, wb)).to(torch.int32)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, pad_mode={self.pad_mode!r}, "
            f"groups={self.groups}, weight_scale={self.weight_scale!r}, clip={self.clip}"
            + (", real_weights=True" if self.real_weights else "")
        )


class BinaryLinear(_BinaryBase):
    """Bias-free binary dense layer: ``y = clamp?(sign_in(x) @ sign(W)^T) * scale``.

    Arguments as :class:`BinaryConv2d`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        input_quantizer: str | SignActivation | None = "ste",
        weight_scale: str = "none",
        clip: bool = False,
        weight_clip_value: float = 1.0,
    ) -> None:
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self._scale_shape = (1, -1)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self._init_common(in_features, input_quantizer, weight_scale, clip, weight_clip_value)

    def _in_channels(self) -> int:
        return self.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = F.linear(self._binarize_input(x), self.forward_weight())
        return self._finish(d)

    def deploy_spec(self) -> BinaryLinearSpec:
        """The converter's view of this layer (detached tensors)."""
        return BinaryLinearSpec(
            in_features=self.in_features, out_features=self.out_features, **self._deploy_common()
        )

    @torch.no_grad()
    def integer_output(self, x: torch.Tensor) -> torch.Tensor:
        """The exact integer ``d = K - 2·popcount(x xor w)`` (int32 ``[N, Cout]``)."""
        xb = self._signs_for_integer(x)
        wb = sign(self.weight.detach()).to(torch.float64)
        return torch.round(F.linear(xb, wb)).to(torch.int32)

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, weight_scale={self.weight_scale!r}, "
            f"clip={self.clip}" + (", real_weights=True" if self.real_weights else "")
        )


@torch.no_grad()
def clip_latent_weights_(model: nn.Module) -> None:
    """Clamp the latent weights of every binary layer to ``±weight_clip_value`` in place.

    Larq's ``WeightClip`` constraint; call after each optimiser step (Bi-Real-Net, QuickNet).
    """
    for m in model.modules():
        if isinstance(m, _BinaryBase):
            m.weight.clamp_(-m.weight_clip_value, m.weight_clip_value)


def set_real_weights(model: nn.Module, enabled: bool = True) -> int:
    """Switch every binary layer of ``model`` to real-weight mode (or back); returns how many.

    Real-weight mode is step 1 of the two-step schedule of ReActNet / Real-to-Binary
    (binary activations, real weights): ``y = conv(sign_in(x), W)``; step 2 trains the same
    parameters with ``y = clamp?(conv(sign_in(x), sign(W)))·scale`` again. The mode is a
    plain attribute, not part of the state dict.

    Raises ``ValueError`` when enabling it on a layer with the BNN-Clip clipping block
    (``enable_int8`` ran: the int8 stage needs binary weights) or on a model without binary
    layers.
    """
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, _BinaryBase)]
    if enabled and not layers:
        raise ValueError(f"{type(model).__name__} has no BinaryConv2d/BinaryLinear layer to "
                         "switch to real weights")
    for name, m in layers:
        if enabled and m.clip:
            raise ValueError(f"layer {name!r} has the int8 clipping block (enable_int8 ran); "
                             "real-weight mode is for stage 1 only")
    for _, m in layers:
        m.real_weights = bool(enabled)
    return len(layers)
