"""Int8 data-flow conventions of every model: where Int8Points sit and what they carry."""

from __future__ import annotations

import operator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnnflow.models import available, build
from bnnflow.models.blocks import make_nonlinearity, scaled_width
from bnnflow.nn import (
    BinaryConv2d,
    InputNormalize,
    Int8Point,
    PReLU,
    RPReLU,
    TwoSidedPReLU,
    calibrate,
    enable_int8,
    freeze_int8,
)

from .fx_check import LeafTracer

PRODUCERS = (
    nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
    nn.ReLU, PReLU, RPReLU, TwoSidedPReLU,
)
SMALL = ["birealnet_small", "birealnet_small_float", "ftbnn_small", "ftbnn_small_float"]


# the float ResNet-18/34 teachers (torchvision layout) have no int8 data-flow
INT8_MODELS = [n for n in available() if n not in ("resnet18", "resnet34")]


@pytest.mark.parametrize("name", INT8_MODELS)
def test_every_int8_tensor_has_an_int8_point(name):
    """Each BN, pooling, residual add and glue non-linearity feeds only an Int8Point; the
    one exception is a ReLU right after a binary conv (its epilogue clamp, QuickNet)."""
    model = build(name)
    graph = LeafTracer().trace(model)
    modules = dict(model.named_modules())
    checked = 0
    for node in graph.nodes:
        if node.op == "call_module" and isinstance(modules[node.target], PRODUCERS):
            src = node.args[0]
            if (
                isinstance(modules[node.target], nn.ReLU)
                and src.op == "call_module"
                and isinstance(modules[src.target], BinaryConv2d)
            ):
                continue
        elif not (node.op == "call_function" and node.target is operator.add):
            continue
        users = list(node.users)
        assert users, node.name
        for u in users:
            assert u.op == "call_module" and isinstance(modules[u.target], Int8Point), (
                f"{node.name} feeds {u.name}"
            )
        checked += 1
    assert checked > 10
    # The model input goes through InputNormalize first, straight into the stem conv.
    first = next(n for n in graph.nodes if n.op == "call_module")
    assert isinstance(modules[first.target], InputNormalize)


@pytest.mark.parametrize("name", SMALL)
def test_frozen_int8_model_carries_int8_values(name):
    torch.manual_seed(0)
    model = build(name)
    x = torch.rand(16, 1, 8, 8) * 240
    model.train()
    model(x)  # move BN statistics away from their initial values
    enable_int8(model)
    calibrate(model, [x[:8], x[8:]])
    freeze_int8(model, exact=False)  # the fake-quant eval forward (nn/exact.py has its own tests)
    outs: dict[str, torch.Tensor] = {}
    for n, m in model.named_modules():
        if isinstance(m, (Int8Point, BinaryConv2d)):
            m.register_forward_hook(lambda mod, i, o, n=n: outs.__setitem__(n, o))
    model.eval()
    with torch.no_grad():
        model(torch.rand(4, 1, 8, 8) * 240)
    for n, m in model.named_modules():
        if isinstance(m, Int8Point):
            k = outs[n] / m.scale
            assert torch.allclose(k, torch.round(k), atol=2e-3), n
            assert k.min() > -128.01 and k.max() < 127.01, n
        elif isinstance(m, BinaryConv2d):
            assert m.clip
            d = outs[n] / m.deploy_spec().scale.view(1, -1, 1, 1)
            assert d.min() > -128.01 and d.max() < 127.01, n


def test_stage2_training_step_updates_weights():
    torch.manual_seed(1)
    model = build("ftbnn_small")
    x, y = torch.rand(8, 1, 8, 8) * 240, torch.randint(0, 10, (8,))
    enable_int8(model)
    calibrate(model, [x])
    freeze_int8(model)
    model.train()
    before = model.blocks[0].conv.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(x), y).backward()
    assert model.stem.conv.weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, model.blocks[0].conv.weight)


def test_helpers():
    assert scaled_width(64, 1.0, 1) == 64 and scaled_width(64, 1.5, 4) == 96
    assert scaled_width(32, 0.01, 4) == 4
    assert make_nonlinearity("none", 4) is None
    with pytest.raises(ValueError, match="nonlinearity"):
        make_nonlinearity("tanh", 4)


def test_torch_export_of_a_frozen_int8_model():
    torch.manual_seed(2)
    model = build("ftbnn_small", nonlinearity="rprelu")
    x = torch.rand(4, 1, 8, 8) * 240
    enable_int8(model)
    calibrate(model, [x])
    freeze_int8(model, exact=False)  # torch.export traces the fake-quant forward (docs/nn.md)
    model.eval()
    ep = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(ep.module()(x), model(x))
