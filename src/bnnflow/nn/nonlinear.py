"""Learnable per-channel non-linearities, each with its piecewise-linear (``pwl``) form.

Every module here is, per channel ``c``, ``y = x >= t ? kp*x + bp : kn*x + bn`` (docs/numerics.md
§3 and the float ``pwl_f32`` of §5); :meth:`pwl` returns those five per-channel vectors so the
converter can fold them into fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from ._checks import check_positive_int
from .quantizers import _per_channel

torch.fx.wrap("_per_channel")


@dataclass(frozen=True)
class PiecewiseLinear:
    """Per-channel ``y = x >= t ? kp*x + bp : kn*x + bn`` (float64 tensors of shape [C])."""

    t: torch.Tensor
    kp: torch.Tensor
    bp: torch.Tensor
    kn: torch.Tensor
    bn: torch.Tensor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate on channel axis 1 of ``x`` (float64), for checks."""
        x = x.to(torch.float64)
        vals = (self.t, self.kp, self.bp, self.kn, self.bn)
        t, kp, bp, kn, bn = (_per_channel(v, x) for v in vals)
        return torch.where(x >= t, kp * x + bp, kn * x + bn)


def _f64(v: torch.Tensor) -> torch.Tensor:
    return v.detach().to(torch.float64).clone()


class PReLU(nn.PReLU):
    """Per-channel PReLU: ``y = x`` for ``x >= 0``, ``a_c x`` otherwise (``a`` init 0.25)."""

    def __init__(self, channels: int, init: float = 0.25) -> None:
        check_positive_int("channels", channels)
        super().__init__(num_parameters=channels, init=init)

    def pwl(self) -> PiecewiseLinear:
        """``t = 0, kp = 1, bp = 0, kn = a, bn = 0``."""
        a = _f64(self.weight)
        z = torch.zeros_like(a)
        return PiecewiseLinear(t=z, kp=torch.ones_like(a), bp=z.clone(), kn=a, bn=z.clone())


class RPReLU(nn.Module):
    """ReActNet's RPReLU: ``y = prelu(x - gamma; beta) + zeta`` per channel.

    ``gamma``, ``zeta`` init 0, slope ``beta`` init 0.25, all learnable.
    """

    def __init__(self, channels: int, init: float = 0.25) -> None:
        super().__init__()
        check_positive_int("channels", channels)
        self.gamma = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.full((channels,), float(init)))
        self.zeta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.prelu(x - _per_channel(self.gamma, x), self.beta) + _per_channel(self.zeta, x)

    def pwl(self) -> PiecewiseLinear:
        """``t = gamma, kp = 1, bp = zeta - gamma, kn = beta, bn = zeta - beta*gamma``."""
        g, b, z = _f64(self.gamma), _f64(self.beta), _f64(self.zeta)
        return PiecewiseLinear(t=g, kp=torch.ones_like(g), bp=z - g, kn=b, bn=z - b * g)


class TwoSidedPReLU(nn.Module):
    """FTBNN's non-linear module: ``y = a_p x`` for ``x >= 0``, ``a_n x`` otherwise.

    Both slopes learnable per channel; init ``a_p = 1``, ``a_n = 0.25``. With ``bias=True``
    the learnable shifts around it of FTBNN's code (ReActNet's RPReLU form):
    ``y = f(x - gamma) + zeta`` with ``f`` the two-sided PReLU, ``gamma``, ``zeta`` init 0.
    """

    def __init__(self, channels: int, init_pos: float = 1.0, init_neg: float = 0.25,
                 bias: bool = False) -> None:
        super().__init__()
        check_positive_int("channels", channels)
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        self.pos_slope = nn.Parameter(torch.full((channels,), float(init_pos)))
        self.neg_slope = nn.Parameter(torch.full((channels,), float(init_neg)))
        self.gamma = nn.Parameter(torch.zeros(channels)) if bias else None
        self.zeta = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gamma is not None:
            x = x - _per_channel(self.gamma, x)
        y = torch.where(
            x >= 0, x * _per_channel(self.pos_slope, x), x * _per_channel(self.neg_slope, x)
        )
        if self.zeta is not None:
            y = y + _per_channel(self.zeta, y)
        return y

    def pwl(self) -> PiecewiseLinear:
        """``t = gamma, kp = a_p, bp = zeta - a_p·gamma, kn = a_n, bn = zeta - a_n·gamma``
        (``gamma = zeta = 0`` without bias)."""
        ap, an = _f64(self.pos_slope), _f64(self.neg_slope)
        g = _f64(self.gamma) if self.gamma is not None else torch.zeros_like(ap)
        z = _f64(self.zeta) if self.zeta is not None else torch.zeros_like(ap)
        return PiecewiseLinear(t=g, kp=ap, bp=z - ap * g, kn=an, bn=z - an * g)

    def extra_repr(self) -> str:
        return f"bias={self.gamma is not None}"


def piecewise_linear(module: nn.Module, channels: int) -> PiecewiseLinear:
    """The ``pwl`` form of a bnnflow non-linearity, ``nn.ReLU``, ``nn.PReLU`` or ``nn.Identity``.

    ``channels`` broadcasts the single-parameter cases. Raises ``TypeError`` for other modules.
    """
    check_positive_int("channels", channels)
    if hasattr(module, "pwl") and callable(module.pwl):
        return module.pwl()
    z = torch.zeros(channels, dtype=torch.float64)
    one = torch.ones(channels, dtype=torch.float64)
    if isinstance(module, nn.ReLU):
        return PiecewiseLinear(t=z, kp=one, bp=z.clone(), kn=z.clone(), bn=z.clone())
    if isinstance(module, nn.PReLU):
        a = _f64(module.weight).expand(channels).clone()
        return PiecewiseLinear(t=z, kp=one, bp=z.clone(), kn=a, bn=z.clone())
    if isinstance(module, nn.Identity):
        return PiecewiseLinear(t=z, kp=one, bp=z.clone(), kn=one.clone(), bn=z.clone())
    raise TypeError(f"{type(module).__name__} has no piecewise-linear form")
