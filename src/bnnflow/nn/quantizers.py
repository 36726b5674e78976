"""Binarising quantizers with straight-through gradient estimators, in plain torch ops.

No ``torch.autograd.Function`` is used: every estimator is written as
``surrogate(x) + (sign(x) - surrogate(x)).detach()``, whose forward value is ``sign(x)`` and
whose gradient is the surrogate's. This keeps ``torch.fx`` tracing and ``torch.export`` intact.

``sign`` follows docs/numerics.md §1: ``sign(0) = +1``.
"""

from __future__ import annotations

import torch
import torch.fx
from torch import nn

from ._checks import check_choice, check_positive_float, check_positive_int

QUANTIZER_KINDS = ("ste", "approx")


def sign(x: torch.Tensor) -> torch.Tensor:
    """``+1`` where ``x >= 0``, ``-1`` elsewhere (same dtype as ``x``, no gradient)."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def ste_sign(x: torch.Tensor, clip_value: float = 1.0) -> torch.Tensor:
    """Sign with the straight-through estimator.

    Forward: ``sign(x)`` (``sign(0) = +1``). Gradient: ``1`` where ``|x| <= clip_value``,
    ``0`` outside (the gradient of ``clamp(x, -c, c)``).
    """
    surrogate = torch.clamp(x, -clip_value, clip_value)
    return surrogate + (sign(x) - surrogate).detach()


def approx_sign(x: torch.Tensor) -> torch.Tensor:
    """Sign with Bi-Real-Net's piecewise-quadratic surrogate gradient.

    Forward: ``sign(x)``. Surrogate ``f(x) = 2x - x|x|`` on ``[-1, 1]`` (constant outside), so
    the gradient is ``2 - 2|x|`` where ``|x| < 1`` and ``0`` elsewhere.
    """
    xc = torch.clamp(x, -1.0, 1.0)
    surrogate = 2.0 * xc - xc * torch.abs(xc)
    return surrogate + (sign(x) - surrogate).detach()


def _per_channel(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """View a ``[C]`` parameter so it broadcasts over channel axis 1 of ``x`` (NC or NCHW).

    Registered with ``torch.fx.wrap``: symbolic tracing records it as one call instead of
    iterating over the (unknown) rank of ``x``.
    """
    return p.view(1, -1, *([1] * (x.dim() - 2)))


torch.fx.wrap("_per_channel")


class SignActivation(nn.Module):
    """Binarise activations: ``y = sign(x - alpha)`` with a straight-through gradient.

    Args:
        kind: ``'ste'`` (:func:`ste_sign`) or ``'approx'`` (:func:`approx_sign`).
        channels: number of channels (axis 1); required with ``learnable_shift``.
        learnable_shift: learn a per-channel shift ``alpha`` (initialised to 0). The packing
            threshold is then ``t = alpha`` (docs/numerics.md §2): ``+1`` iff ``x >= t``.
        clip_value: gradient window of ``'ste'`` (``|x - alpha| <= clip_value``); must be 1
            for ``'approx'``.
    """

    def __init__(
        self,
        kind: str = "ste",
        channels: int | None = None,
        learnable_shift: bool = False,
        clip_value: float = 1.0,
    ) -> None:
        super().__init__()
        check_choice("kind", kind, QUANTIZER_KINDS)
        check_positive_float("clip_value", clip_value)
        if kind == "approx" and clip_value != 1.0:
            raise ValueError(f"clip_value must be 1.0 for kind='approx', got {clip_value!r}")
        if learnable_shift:
            if channels is None:
                raise ValueError("channels is required when learnable_shift=True")
            check_positive_int("channels", channels)
        self.kind = kind
        self.channels = channels
        self.clip_value = float(clip_value)
        self.shift = nn.Parameter(torch.zeros(channels)) if learnable_shift else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shift is not None:
            x = x - _per_channel(self.shift, x)
        if self.kind == "ste":
            return ste_sign(x, self.clip_value)
        return approx_sign(x)

    def threshold(self, channels: int) -> torch.Tensor:
        """Per-channel float32 threshold ``t`` (``+1`` iff ``x >= t``): ``alpha`` or zeros."""
        if self.shift is None:
            return torch.zeros(channels, dtype=torch.float32)
        if self.shift.numel() != channels:
            raise ValueError(
                f"SignActivation has {self.shift.numel()} shift channels, layer has {channels}"
            )
        return self.shift.detach().to(torch.float32).clone()

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, learnable_shift={self.shift is not None}"
