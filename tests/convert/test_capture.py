"""convert.capture: one node per leaf module with the model's parameters; shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bnnflow import nn as bnn
from bnnflow.convert import ConversionError
from bnnflow.convert.capture import capture
from bnnflow.models import ftbnn_small, quicknet


def test_ftbnn_small_nodes():
    g = capture(ftbnn_small(), torch.zeros(1, 1, 8, 8))
    kinds = [n.kind for n in g.nodes]
    assert kinds[:5] == ["input", "normalize", "conv", "affine", "int8point"]
    assert kinds.count("bconv") == 6 and kinds.count("sign") == 6
    assert kinds.count("add") == 6 and kinds[-1] == "linear"
    conv = g.node("blocks.2.conv")
    assert conv.shape == (64, 4, 4) and conv.attrs["stride"] == 2
    sign = g.node("blocks.2.conv.sign")
    assert conv.inputs == [sign.name] and sign.shape == (32, 8, 8)
    add = g.node("blocks.0.add")
    assert add.module == "blocks.0.add" and len(add.inputs) == 2
    assert g.output == "fc"


def test_parameters_are_the_models():
    model = ftbnn_small().eval()
    with torch.no_grad():
        model.blocks[0].bn.running_mean.fill_(0.5)
    g = capture(model, torch.zeros(1, 1, 8, 8))
    bn = g.node("blocks.0.bn")
    m = model.blocks[0].bn
    sigma = np.sqrt(m.running_var.double().numpy() + m.eps)
    np.testing.assert_allclose(bn.attrs["a"], m.weight.detach().double().numpy() / sigma)
    np.testing.assert_allclose(bn.attrs["b"], m.bias.detach().double().numpy() - 0.5 / sigma)
    bconv = g.node("blocks.0.conv")
    w = model.blocks[0].conv.weight.detach()
    assert np.array_equal(bconv.attrs["weight_sign"], np.where(w.numpy() >= 0, 1, -1))
    np.testing.assert_allclose(bconv.attrs["alpha"], w.abs().mean((1, 2, 3)).double().numpy(),
                               rtol=1e-6)


def test_quicknet_leaves():
    g = capture(quicknet(num_classes=4), torch.zeros(1, 3, 32, 32))
    dw = g.node("stem.dwconv")
    assert dw.kind == "conv" and dw.attrs["groups"] == 16
    block = g.node("blocks.0.conv")
    assert block.attrs["pad_mode"] == "one"
    assert block.attrs["alpha"].tolist() == [1.0] * 64  # weight_scale='none'
    relu = g.node("blocks.0.act")
    assert relu.kind == "pwl" and relu.attrs["relu"]


def test_functional_relu_and_flatten_method():
    class F(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 2)

        def forward(self, x):
            return self.fc(torch.relu(x).flatten(1))

    g = capture(F(), torch.zeros(1, 3, 2, 2))
    assert [n.kind for n in g.nodes] == ["input", "pwl", "flatten", "linear"]
    assert g.node("relu").attrs["relu"]


def test_int8point_state_is_the_callers():
    model = bnn.enable_int8(ftbnn_small())
    g = capture(model, torch.zeros(1, 1, 8, 8))
    q = g.node("stem.q_bn")
    assert q.attrs["mode"] == "observing" and q.attrs["observed"] == 0
    assert int(model.stem.q_bn.num_observed) == 0


def test_cat_and_channel_shuffle():
    """``torch.cat(xs, 1)`` (and ``dim=-3``) → one ``concat`` node; ``ChannelShuffle`` →
    ``channel_shuffle`` with its group count; other cat axes are refused."""

    class Cat(nn.Module):
        def __init__(self, dim: int):
            super().__init__()
            self.dim = dim
            self.shuffle = bnn.ChannelShuffle(3)

        def forward(self, x):
            return self.shuffle(torch.cat([x, torch.relu(x), x], self.dim)).flatten(1)

    g = capture(Cat(1), torch.zeros(1, 2, 2, 2))
    assert [n.kind for n in g.nodes] == ["input", "pwl", "concat", "channel_shuffle",
                                         "flatten"]
    cat = g.node("cat")
    assert cat.inputs == ["input", "relu", "input"] and cat.shape == (6, 2, 2)
    assert g.node("shuffle").attrs["groups"] == 3
    assert capture(Cat(-3), torch.zeros(1, 2, 2, 2)).node("cat").kind == "concat"
    with pytest.raises(ConversionError, match=r"channel axis \(dim=1\).*dim=2"):
        capture(Cat(2), torch.zeros(1, 3, 2, 2))
