"""Non-linear modules: forward values and their piecewise-linear (pwl) forms."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from bnnflow.nn import PReLU, RPReLU, TwoSidedPReLU, piecewise_linear


def _randomise(module: nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))


@pytest.mark.parametrize("cls", [PReLU, RPReLU, TwoSidedPReLU,
                                 partial(TwoSidedPReLU, bias=True)])
@pytest.mark.parametrize("shape", [(3, 5, 4, 4), (7, 5)])
def test_forward_equals_pwl(cls, shape):
    torch.manual_seed(0)
    m = cls(5)
    _randomise(m)
    x = torch.randn(*shape, dtype=torch.float64) * 2
    y = m.to(torch.float64)(x)
    assert torch.allclose(y, m.pwl()(x), atol=1e-12)


def test_two_sided_prelu_values_and_init():
    m = TwoSidedPReLU(2)
    assert m.pos_slope.tolist() == [1.0, 1.0] and m.neg_slope.tolist() == [0.25, 0.25]
    with torch.no_grad():
        m.pos_slope.copy_(torch.tensor([2.0, 0.5]))
        m.neg_slope.copy_(torch.tensor([0.1, -1.0]))
    x = torch.tensor([[4.0, -4.0], [-2.0, 0.0]])
    assert torch.allclose(m(x), torch.tensor([[8.0, 4.0], [-0.2, 0.0]]))
    f = m.pwl()
    assert f.t.tolist() == [0.0, 0.0] and f.kp.tolist() == [2.0, 0.5]
    assert f.kn.tolist() == pytest.approx([0.1, -1.0]) and f.bp.tolist() == [0.0, 0.0]


def test_two_sided_prelu_bias():
    """bias=True: ``f(x - gamma) + zeta`` (FTBNN's shifts around the non-linearity)."""
    m = TwoSidedPReLU(2, bias=True)
    assert m.gamma.tolist() == [0.0, 0.0] and m.zeta.tolist() == [0.0, 0.0]
    assert sum(p.numel() for p in m.parameters()) == 8
    assert TwoSidedPReLU(2).gamma is None
    with torch.no_grad():
        m.pos_slope.copy_(torch.tensor([2.0, 0.5]))
        m.neg_slope.copy_(torch.tensor([0.1, -1.0]))
        m.gamma.copy_(torch.tensor([1.0, -1.0]))
        m.zeta.copy_(torch.tensor([0.5, 0.0]))
    x = torch.tensor([[4.0, -4.0], [0.0, -1.0]])
    # ch0: x-1 = 3 → 6 + .5; x-1 = -1 → -.1 + .5;  ch1: x+1 = -3 → 3; x+1 = 0 → 0
    assert torch.allclose(m(x), torch.tensor([[6.5, 3.0], [0.4, 0.0]]))
    f = m.pwl()
    assert f.t.tolist() == [1.0, -1.0] and f.bp.tolist() == pytest.approx([-1.5, 0.5])
    assert f.bn.tolist() == pytest.approx([0.4, -1.0])
    with pytest.raises(ValueError, match="bias must be True or False"):
        TwoSidedPReLU(2, bias=1)


def test_rprelu_values_and_pwl():
    m = RPReLU(1)
    with torch.no_grad():
        m.gamma.fill_(1.0)
        m.beta.fill_(0.5)
        m.zeta.fill_(-2.0)
    x = torch.tensor([[3.0], [1.0], [-1.0]])
    # x >= 1: (x - 1) - 2; x < 1: 0.5 (x - 1) - 2
    assert m(x).flatten().tolist() == [0.0, -2.0, -3.0]
    f = m.pwl()
    assert (f.t.item(), f.kp.item(), f.bp.item(), f.kn.item(), f.bn.item()) == (
        1.0, 1.0, -3.0, 0.5, -2.5,
    )


def test_prelu_is_a_torch_prelu_per_channel():
    m = PReLU(4)
    assert isinstance(m, nn.PReLU) and m.weight.shape == (4,)
    f = m.pwl()
    assert f.kn.tolist() == [0.25] * 4 and f.kp.tolist() == [1.0] * 4


@pytest.mark.parametrize(
    ("module", "x", "y"),
    [
        (nn.ReLU(), [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
        (nn.PReLU(1, init=0.1), [-2.0, 0.0, 3.0], [-0.2, 0.0, 3.0]),
        (nn.Identity(), [-2.0, 0.0, 3.0], [-2.0, 0.0, 3.0]),
    ],
)
def test_piecewise_linear_of_torch_modules(module, x, y):
    f = piecewise_linear(module, 3)
    got = f(torch.tensor([x], dtype=torch.float64)).flatten().tolist()
    assert got == pytest.approx(y)


def test_piecewise_linear_rejects_other_modules():
    with pytest.raises(TypeError, match="Sigmoid"):
        piecewise_linear(nn.Sigmoid(), 2)
    with pytest.raises(ValueError, match="channels"):
        PReLU(0)
