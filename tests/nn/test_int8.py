"""int8 fake-quant: rounding half up, saturation, STE gradients, observe/freeze, Q-layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from bnnflow.nn import (
    BinaryConv2d,
    Int8Point,
    QConv2d,
    QLinear,
    calibrate,
    disable_int8,
    enable_int8,
    fake_quant_int8,
    freeze_int8,
)
from bnnflow.reference.fixedpoint import rshift_round, saturate_int8


def test_fake_quant_rounds_half_up_and_saturates():
    s = torch.tensor(1.0)
    x = torch.tensor([0.5, 1.5, -0.5, -1.5, 2.49, -2.51, 126.6, 127.4, 200.0, -128.4, -300.0])
    expected = [1.0, 2.0, 0.0, -1.0, 2.0, -3.0, 127.0, 127.0, 127.0, -128.0, -128.0]
    assert fake_quant_int8(x, s).tolist() == expected


def test_fake_quant_with_scale():
    s = torch.tensor(0.25)
    x = torch.tensor([0.125, 0.124, -0.125, 100.0])
    assert fake_quant_int8(x, s).tolist() == [0.25, 0.0, 0.0, 127 * 0.25]


def test_fake_quant_gradient_straight_through_inside_range():
    s = torch.tensor(0.5)
    x = torch.tensor([-70.0, -64.0, -10.3, 0.0, 63.5, 63.6, 80.0], requires_grad=True)
    fake_quant_int8(x, s).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_int8_point_disabled_is_identity():
    p = Int8Point()
    x = torch.randn(3, 4)
    assert p(x) is x


def test_int8_point_observe_and_freeze():
    p = Int8Point()
    with pytest.raises(ValueError, match="not observed"):
        p.set_mode("frozen")
    p.set_mode("observing")
    y = p(torch.tensor([1.0, -2.54, 0.3]))
    assert p.max_abs.item() == pytest.approx(2.54)
    assert p.int8_scale == pytest.approx(2.54 / 127)
    assert torch.allclose(y, torch.tensor([50.0, -127.0, 15.0]) * (2.54 / 127))
    p(torch.tensor([5.08]))
    assert p.int8_scale == pytest.approx(5.08 / 127)
    p.set_mode("frozen")
    p(torch.tensor([100.0]))  # frozen: no update, saturates
    assert p.int8_scale == pytest.approx(5.08 / 127)
    assert p(torch.tensor([100.0])).item() == pytest.approx(5.08)


def test_int8_point_state_dict_round_trip_keeps_mode():
    p = Int8Point()
    p.set_mode("observing")
    p(torch.tensor([3.0]))
    p.set_mode("frozen")
    q = Int8Point()
    q.load_state_dict(p.state_dict())
    assert q.mode == "frozen" and q.int8_scale == p.int8_scale
    with pytest.raises(ValueError, match="mode"):
        q.set_mode("on")


def test_qconv_disabled_equals_conv_and_enabled_uses_int8_weights():
    torch.manual_seed(0)
    q = QConv2d(3, 5, 3, padding=1, bias=False)
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(q(x), F.conv2d(x, q.weight, None, 1, 1))
    q.set_mode("observing")
    w8, sw = q.int8_weight()
    assert w8.dtype == torch.int8 and w8.abs().max() == 127
    w = q.weight.detach()
    assert torch.equal(w8, torch.floor(w / sw.view(-1, 1, 1, 1) + 0.5).to(torch.int8))
    expected = F.conv2d(x, w8.float() * sw.view(-1, 1, 1, 1), None, 1, 1)
    assert torch.allclose(q(x), expected, atol=1e-6)
    q(x).sum().backward()  # straight-through: same weight gradient as the float conv
    g = q.weight.grad.clone()
    q.weight.grad = None
    F.conv2d(x, q.weight, None, 1, 1).sum().backward()
    assert torch.allclose(g, q.weight.grad)


def test_qconv_input_scale_folds_into_int8_weights():
    torch.manual_seed(1)
    s = [0.5, 0.01, 2.0]
    zp = torch.tensor([10.0, 128.0, 0.0]).view(1, 3, 1, 1)
    q = QConv2d(3, 4, 3, padding=1, bias=False, input_scale=s)
    q.set_mode("frozen")
    x = torch.randint(0, 256, (1, 3, 5, 5)).float()
    w8, sw = q.int8_weight()
    w_fold = q.weight.detach() * torch.tensor(s).view(1, 3, 1, 1)
    assert torch.equal(w8, torch.floor(w_fold / sw.view(-1, 1, 1, 1) + 0.5).to(torch.int8))
    y = q((x - zp) * torch.tensor(s).view(1, 3, 1, 1))
    # Engine: int32 acc = sum w8 * (x - zp) with zero padding, then times S_w.
    acc = F.conv2d((x - zp).double(), w8.double(), None, 1, 1)
    assert torch.allclose(y.double(), acc * sw.double().view(1, -1, 1, 1), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="input_scale"):
        QConv2d(3, 4, 3, input_scale=[1.0, 1.0])
    with pytest.raises(ValueError, match="> 0"):
        QConv2d(2, 4, 3, input_scale=[1.0, 0.0])


def test_qlayer_mode_survives_state_dict():
    a = QConv2d(2, 3, 1)
    a.set_mode("frozen")
    b = QConv2d(2, 3, 1)
    b.load_state_dict(a.state_dict())
    assert b.mode == "frozen"
    with pytest.raises(ValueError, match="mode"):
        b.set_mode("enabled")


def test_qlinear_fake_quant():
    torch.manual_seed(2)
    q = QLinear(6, 3)
    x = torch.randn(4, 6)
    assert torch.equal(q(x), F.linear(x, q.weight, q.bias))
    q.set_mode("observing")
    w8, sw = q.int8_weight()
    assert torch.allclose(q(x), F.linear(x, w8.float() * sw.view(-1, 1), q.bias), atol=1e-6)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = QConv2d(1, 4, 3, padding=1, bias=False)
        self.q0 = Int8Point()
        self.conv = BinaryConv2d(4, 4, 3, weight_scale="channel_mean")
        self.bn = nn.BatchNorm2d(4)
        self.q1 = Int8Point()
        self.fc = QLinear(4, 2)

    def forward(self, x):
        x = self.q0(self.stem(x))
        x = self.q1(self.bn(self.conv(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_enable_calibrate_freeze():
    torch.manual_seed(3)
    m = _Tiny()
    with pytest.raises(ValueError, match="enable_int8"):
        calibrate(m, [torch.randn(2, 1, 5, 5)])
    enable_int8(m)
    assert m.conv.clip and m.q0.mode == "observing" and m.stem.mode == "observing"
    with pytest.raises(ValueError, match="q0"):
        freeze_int8(m)
    m.train()
    batches = [(torch.randn(2, 1, 5, 5), torch.zeros(2)) for _ in range(3)]
    calibrate(m, batches, max_batches=2)
    assert m.training and int(m.q0.num_observed) == 2
    freeze_int8(m, exact=False)  # the fake-quant eval forward (nn/test_exact.py: exact)
    assert m.q0.mode == m.q1.mode == m.stem.mode == "frozen"
    # After freezing, every Int8Point output is an int8 multiple of its scale.
    m.eval()
    outs = {}
    for name in ("q0", "q1"):
        getattr(m, name).register_forward_hook(lambda mod, i, o, n=name: outs.__setitem__(n, o))
    m(torch.randn(3, 1, 5, 5) * 3)
    for name, o in outs.items():
        k = o / getattr(m, name).scale
        assert torch.allclose(k, torch.round(k), atol=1e-3), name
        assert k.min() >= -128.001 and k.max() <= 127.001
    disable_int8(m)
    assert not m.conv.clip and m.q0.mode == "disabled" and m.fc.mode == "disabled"


@settings(max_examples=60, deadline=None)
@given(v=st.integers(-(2**20), 2**20), s=st.integers(0, 12))
def test_fake_quant_rounds_like_the_engine(v, s):
    """With S = 1, fq(v / 2**s) equals the reference saturate(rshift_round(v, s))."""
    x = torch.tensor([v / 2.0**s], dtype=torch.float64)
    got = fake_quant_int8(x, torch.tensor(1.0, dtype=torch.float64)).item()
    assert got == int(saturate_int8(rshift_round(np.array([v]), s))[0])


def test_freeze_min_scale_and_empty_range():
    from bnnflow.nn.int8 import observed_range_is_empty

    seen, empty = Int8Point(), Int8Point()
    model = nn.Sequential(seen, nn.ReLU(), empty)
    enable_int8(model)
    calibrate(model, [-torch.rand(2, 3)])  # ReLU output all 0
    assert observed_range_is_empty(empty) and not observed_range_is_empty(seen)
    low = float(seen.scale)
    freeze_int8(model, min_scale=0.5 * low)
    assert float(seen.scale) == low  # above min_scale: unchanged
    assert float(empty.scale) == pytest.approx(0.5 * low)
    assert float(empty.max_abs) == pytest.approx(127 * 0.5 * low)
    assert not observed_range_is_empty(empty)
    with pytest.raises(ValueError, match="min_scale"):
        freeze_int8(model, min_scale=float("nan"))
