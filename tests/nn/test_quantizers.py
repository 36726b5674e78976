"""Quantizer forward values and straight-through gradients (exact)."""

from __future__ import annotations

import pytest
import torch

from bnnflow.nn import SignActivation, approx_sign, sign, ste_sign


def _grad(fn, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad


def test_sign_of_zero_is_plus_one():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, -1e-30, 3.0])
    assert sign(x).tolist() == [-1.0, 1.0, 1.0, 1.0, -1.0, 1.0]
    assert ste_sign(x).tolist() == [-1.0, 1.0, 1.0, 1.0, -1.0, 1.0]
    assert approx_sign(x).tolist() == [-1.0, 1.0, 1.0, 1.0, -1.0, 1.0]


def test_ste_sign_gradient_is_one_inside_clip_window():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0001, 2.0])
    assert _grad(ste_sign, x).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_ste_sign_clip_value():
    x = torch.tensor([-1.3, -1.2, 1.25, 1.3])
    g = _grad(lambda v: ste_sign(v, 1.25), x)
    assert g.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_approx_sign_gradient_is_two_minus_two_abs():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.25, 0.75, 1.5], dtype=torch.float64)
    g = _grad(approx_sign, x)
    assert g.tolist() == [0.0, 0.0, 1.0, 2.0, 1.5, 0.5, 0.0]
    assert approx_sign(x).tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("kind", ["ste", "approx"])
def test_sign_activation_with_learnable_shift(kind):
    act = SignActivation(kind, channels=2, learnable_shift=True)
    with torch.no_grad():
        act.shift.copy_(torch.tensor([0.5, -0.25]))
    x = torch.tensor([[[[0.5, 0.4]], [[-0.25, -0.3]]]], requires_grad=True)  # [1, 2, 1, 2]
    y = act(x)
    assert y.flatten().tolist() == [1.0, -1.0, 1.0, -1.0]
    y.sum().backward()
    # d/d alpha = -d/dx, summed over the positions of the channel.
    assert torch.allclose(act.shift.grad, -x.grad.sum(dim=(0, 2, 3)))
    assert act.threshold(2).tolist() == [0.5, -0.25]


def test_sign_activation_on_dense_input():
    act = SignActivation("ste", channels=3, learnable_shift=True)
    with torch.no_grad():
        act.shift.copy_(torch.tensor([1.0, 0.0, -1.0]))
    x = torch.tensor([[0.5, 0.0, -1.0]])
    assert act(x).tolist() == [[-1.0, 1.0, 1.0]]


def test_plain_sign_activation_threshold_is_zero():
    assert SignActivation("approx").threshold(4).tolist() == [0.0] * 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "sign"}, "kind"),
        ({"kind": "ste", "learnable_shift": True}, "channels"),
        ({"kind": "ste", "channels": 0, "learnable_shift": True}, "channels"),
        ({"kind": "ste", "clip_value": 0.0}, "clip_value"),
        ({"kind": "approx", "clip_value": 2.0}, "clip_value"),
    ],
)
def test_sign_activation_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SignActivation(**kwargs)


def test_threshold_channel_mismatch():
    act = SignActivation("ste", channels=3, learnable_shift=True)
    with pytest.raises(ValueError, match="3 shift channels"):
        act.threshold(4)
