"""BNN-Clip int8 data-flow in the training graph: fake-quant points and weight fake-quant.

The int8 data-flow (docs/numerics.md §3, §6) carries every glue tensor as ``q·S`` with ``q``
int8 and ``S`` a per-tensor scale. In the training graph an :class:`Int8Point` marks each such
tensor and, once enabled, fake-quantises it exactly as the engine rounds:

    fq(x) = S · clamp(floor(x / S + 0.5), -128, 127)        (round half up, saturate)

with a straight-through gradient inside ``[-128·S, 127·S]`` and zero outside. Real-valued
layers (stem, 1x1 downsample convs, classifier) use :class:`QConv2d` / :class:`QLinear`, whose
weights are fake-quantised symmetrically per output channel (``S_w = max|w_o| / 127``).

Stage 2 of the recipe: :func:`enable_int8` → :func:`calibrate` → :func:`freeze_int8` →
fine-tune. Scales are observed as the running maximum of ``|x|`` over all calibration batches
(``S = max|x| / 127``), then frozen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ._checks import check_choice
from .binary import _BinaryBase

INT8_MODES = ("disabled", "observing", "frozen")
_TINY = 1e-12


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)``: the engine's rounding (docs/numerics.md §3)."""
    return torch.floor(x + 0.5)


def fake_quant_int8(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale · clamp(floor(x/scale + 0.5), -128, 127)`` with a straight-through gradient.

    ``scale`` broadcasts against ``x`` (a scalar tensor or per-channel). The gradient with
    respect to ``x`` is 1 where ``-128·scale <= x <= 127·scale`` and 0 outside; no gradient
    flows to ``scale``.
    """
    scale = scale.detach()
    q = torch.clamp(round_half_up(x / scale), -128.0, 127.0) * scale
    xc = torch.clamp(x, -128.0 * scale, 127.0 * scale)
    return xc + (q - xc).detach()


class Int8Point(nn.Module):
    """Marks an int8 tensor of the int8 data-flow; identity until enabled.

    Modes: ``'disabled'`` (identity, stage 1), ``'observing'`` (updates the running
    ``max_abs`` with every forward, in train or eval mode, and fake-quantises with
    ``S = max_abs / 127``), ``'frozen'`` (fake-quantises with the stored ``scale``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.mode = "disabled"
        self.register_buffer("max_abs", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("num_observed", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "disabled":
            return x
        if self.mode == "observing":
            self._observe(x)
        return fake_quant_int8(x, self.scale)

    @torch.no_grad()
    def _observe(self, x: torch.Tensor) -> None:
        self.max_abs.copy_(torch.maximum(self.max_abs, x.detach().abs().max().to(self.max_abs)))
        self.scale.copy_(torch.clamp_min(self.max_abs, _TINY) / 127.0)
        self.num_observed += 1

    def set_mode(self, mode: str) -> None:
        """Switch to ``'disabled'``, ``'observing'`` or ``'frozen'`` (needs observed data)."""
        check_choice("mode", mode, INT8_MODES)
        if mode == "frozen" and int(self.num_observed) == 0:
            raise ValueError("Int8Point cannot be frozen: it has not observed any data")
        self.mode = mode

    @property
    def int8_scale(self) -> float:
        """The per-tensor scale ``S`` (valid once observed)."""
        return float(self.scale)

    def get_extra_state(self) -> dict[str, Any]:
        return {"mode": self.mode}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        check_choice("mode", state.get("mode"), INT8_MODES)
        self.mode = state["mode"]

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, scale={float(self.scale):.6g}"


def _weight_fake_quant(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output-channel symmetric int8 of ``w``: returns ``(q (float ints), S_w [Cout])``."""
    s = torch.clamp_min(w.detach().abs().flatten(1).amax(dim=1), _TINY) / 127.0
    sv = s.view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(round_half_up(w.detach() / sv), -128.0, 127.0), s


class _QWeight:
    """Weight fake-quant switch shared by :class:`QConv2d` and :class:`QLinear`."""

    weight: nn.Parameter
    mode: str

    def _folded_weight(self) -> torch.Tensor:
        return self.weight

    def _unfold(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def effective_weight(self) -> torch.Tensor:
        """The weight used by ``forward``: latent, or fake-quantised with an STE."""
        if self.mode == "disabled":
            return self.weight
        wf = self._folded_weight()
        q, s = _weight_fake_quant(wf)
        wq = q * s.view(-1, *([1] * (wf.dim() - 1)))
        return self._unfold(wf + (wq - wf).detach())

    @torch.no_grad()
    def int8_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w_int8, S_w)``: int8 weights (input scale folded in) and [Cout] scales."""
        q, s = _weight_fake_quant(self._folded_weight().detach())
        return q.to(torch.int8), s.to(torch.float32)

    def set_mode(self, mode: str) -> None:
        """``'disabled'`` (float weights) or ``'observing'``/``'frozen'`` (fake-quantised).

        Weight scales always follow the current weights, so observing and frozen agree.
        """
        check_choice("mode", mode, INT8_MODES)
        self.mode = mode

    def get_extra_state(self) -> dict[str, Any]:
        return {"mode": self.mode}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        check_choice("mode", state.get("mode"), INT8_MODES)
        self.mode = state["mode"]


class QConv2d(_QWeight, nn.Conv2d):
    """``nn.Conv2d`` with switchable int8 per-output-channel weight fake-quant.

    ``input_scale`` (per input channel, stem only, ``groups=1``): the scale of the preceding
    :class:`InputNormalize`. The engine folds it into the int8 weights (numerics.md §5
    ``conv2d_int8`` reads ``x - zp``), so the fake-quant acts on ``w[o, c] · input_scale[c]``
    and divides it back out: ``conv((x - zp)·s, fq(w·s)/s) = conv(x - zp, fq(w·s))``.
    """

    def __init__(
        self, *args: Any, input_scale: Sequence[float] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mode = "disabled"
        if input_scale is None:
            self.input_scale: torch.Tensor | None = None
            return
        s = torch.as_tensor(list(input_scale), dtype=torch.float32)
        if s.numel() != self.in_channels or self.groups != 1:
            raise ValueError(
                f"input_scale needs groups=1 and {self.in_channels} values, got {s.numel()}"
            )
        if not bool(torch.all(s > 0)):
            raise ValueError("input_scale values must be > 0")
        self.register_buffer("input_scale", s)

    def _folded_weight(self) -> torch.Tensor:
        if self.input_scale is None:
            return self.weight
        return self.weight * self.input_scale.view(1, -1, 1, 1)

    def _unfold(self, w: torch.Tensor) -> torch.Tensor:
        if self.input_scale is None:
            return w
        return w / self.input_scale.view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)


class QLinear(_QWeight, nn.Linear):
    """``nn.Linear`` with switchable int8 per-output-channel weight fake-quant."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mode = "disabled"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)


def _int8_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (Int8Point, _QWeight))]


def enable_int8(model: nn.Module) -> nn.Module:
    """Stage 2: ``clip=True`` on every binary layer; Int8Points and Q-layers to observing.

    Refuses (``ValueError`` naming the layer) a binary layer in real-weight mode.
    """
    for name, m in model.named_modules():
        if isinstance(m, _BinaryBase) and m.real_weights:
            raise ValueError(f"enable_int8: layer {name!r} is in real-weight mode (two-step "
                             "schedule, step 1); the int8 stage starts from binary weights")
    for m in model.modules():
        if isinstance(m, _BinaryBase):
            m.clip = True
    for m in _int8_modules(model):
        m.set_mode("observing")
    return model


def disable_int8(model: nn.Module) -> nn.Module:
    """Back to stage 1: no clipping, every Int8Point and Q-layer disabled."""
    for m in model.modules():
        if isinstance(m, _BinaryBase):
            m.clip = False
    for m in _int8_modules(model):
        m.set_mode("disabled")
    return model


def has_observing_points(model: nn.Module) -> bool:
    """Whether some Int8Point or Q-layer of ``model`` is in ``observing`` mode."""
    return any(isinstance(m, Int8Point) and m.mode == "observing" for m in model.modules())


@torch.no_grad()
def calibrate(
    model: nn.Module, batches: Iterable[Any], max_batches: int | None = None
) -> nn.Module:
    """Run ``batches`` through ``model`` in eval mode so observing Int8Points record ``max|x|``.

    Each batch is a tensor or a tuple/list whose first item is the input. The model's
    training flag is restored afterwards.
    """
    if not has_observing_points(model):
        raise ValueError("calibrate: no Int8Point is observing; call enable_int8(model) first")
    was_training = model.training
    model.eval()
    try:
        for i, batch in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            model(batch[0] if isinstance(batch, (tuple, list)) else batch)
    finally:
        model.train(was_training)
    return model


def freeze_int8(model: nn.Module, min_scale: float | None = None, exact: bool = True
                ) -> nn.Module:
    """Freeze every observing Int8Point's scale (and mark Q-layers frozen).

    ``exact`` (default): from now on the model's **eval** forward is the engine's integer
    arithmetic (:mod:`bnnflow.nn.exact`: the converted int8 graph run on torch integer
    tensors, bit-identical to ``bnnflow run``); training mode keeps the fake-quant forward and
    its straight-through gradients. ``exact=False`` keeps the fake-quant forward in eval too.

    ``min_scale``: raise the scale of every frozen Int8Point to at least this value (its
    ``max_abs`` to ``127·min_scale``). Needed where a tensor was 0 on every calibration batch
    (e.g. a ReLU whose input was never positive): its observed range is empty and its scale a
    placeholder the int8 data-flow cannot use (``bnnflow.convert`` refuses it).

    Raises ``ValueError`` naming the first Int8Point that never observed data, or for a
    ``min_scale`` that is not a positive finite number.
    """
    if min_scale is not None and not (math.isfinite(min_scale) and min_scale > 0):
        raise ValueError(f"min_scale must be a positive finite number, got {min_scale!r}")
    for name, m in model.named_modules():
        if isinstance(m, Int8Point) and m.mode == "observing" and int(m.num_observed) == 0:
            raise ValueError(f"Int8Point {name!r} has not observed any data; calibrate first")
    for m in _int8_modules(model):
        if m.mode == "observing":
            m.set_mode("frozen")
        if min_scale is not None and isinstance(m, Int8Point) and m.mode == "frozen" \
                and float(m.scale) < min_scale:
            with torch.no_grad():
                m.scale.fill_(min_scale)
                m.max_abs.fill_(127.0 * min_scale)
    from bnnflow.nn import exact as exact_mod

    exact_mod.install(model, exact)
    return model


def observed_range_is_empty(point: Int8Point) -> bool:
    """Whether ``point`` saw only zeros (``max|x| = 0``) and has no usable scale (no
    ``min_scale`` raised it): its scale is the ``1e-12/127`` placeholder."""
    return float(point.max_abs) == 0.0 and float(point.scale) <= _TINY / 127.0
