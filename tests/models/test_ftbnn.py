"""FTBNN-18 family: non-linearity, position, group execution, binary downsampling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bnnflow.models import ftbnn18, ftbnn34, ftbnn_small, ftbnn_small_float
from bnnflow.models.blocks import BasicBlock, Downsample
from bnnflow.nn import (
    BinaryConv2d,
    ChannelShuffle,
    PReLU,
    QConv2d,
    RPReLU,
    SignActivation,
    TwoSidedPReLU,
)

from .fx_check import check_traces, count


def test_ftbnn18_defaults_at_224():
    m = ftbnn18()
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert len(blocks) == 16
    assert all(isinstance(b.nl, TwoSidedPReLU) and b.position == "after_add" for b in blocks)
    assert all(isinstance(d.conv, QConv2d) for d in m.modules() if isinstance(d, Downsample))
    x = torch.rand(1, 3, 224, 224) * 255
    with torch.no_grad():
        assert m.eval()(x).shape == (1, 1000)
    check_traces(m, None)  # outputs compared on 224x224 in the slow test


@pytest.mark.parametrize(
    ("nonlinearity", "cls"),
    [("two_sided_prelu", TwoSidedPReLU), ("rprelu", RPReLU), ("prelu", PReLU), ("relu", nn.ReLU)],
)
@pytest.mark.parametrize("position", ["after_add", "before_add"])
def test_nonlinearity_and_position(nonlinearity, cls, position):
    m = ftbnn_small(num_classes=5, nonlinearity=nonlinearity, position=position)
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert len(blocks) == 6
    assert all(isinstance(b.nl, cls) and b.position == position for b in blocks)
    graph = check_traces(m, torch.rand(2, 1, 8, 8) * 240)
    # The non-linearity reads the residual add's Int8Point after the add, the BN's before.
    nl_node = next(n for n in graph.nodes if n.target == "blocks.0.nl")
    expected_input = "blocks.0.q_add" if position == "after_add" else "blocks.0.q_bn"
    assert nl_node.args[0].target == expected_input


def test_no_nonlinearity_is_birealnet():
    m = ftbnn18(nonlinearity="none")
    assert count(m, TwoSidedPReLU) == count(m, RPReLU) == count(m, nn.PReLU) == 0


def test_position_changes_the_function():
    torch.manual_seed(0)
    a = ftbnn_small(position="after_add")
    b = ftbnn_small(position="before_add")
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        for m in (a, b):
            for nl in m.modules():
                if isinstance(nl, TwoSidedPReLU):
                    nl.neg_slope.fill_(-0.5)
    x = torch.rand(2, 1, 8, 8) * 240
    assert not torch.allclose(a.eval()(x), b.eval()(x))


def test_group_execution():
    m = ftbnn18(groups=4, width=2.0)
    convs = [c for c in m.modules() if isinstance(c, BinaryConv2d)]
    assert all(c.groups == 4 for c in convs)
    assert sorted({c.out_channels for c in convs}) == [128, 256, 512, 1024]
    assert m.fc.in_features == 1024 and m.stem.conv.out_channels == 128
    check_traces(ftbnn_small(groups=2, width=2.0), torch.rand(1, 1, 8, 8) * 240)


def test_width_rounds_to_multiple_of_groups():
    m = ftbnn_small(groups=3, width=1.0)
    assert sorted({c.out_channels for c in m.modules() if isinstance(c, BinaryConv2d)}) == [
        33, 63, 129,
    ]
    assert m(torch.rand(1, 1, 8, 8) * 240).shape == (1, 10)


def test_binary_downsample():
    m = ftbnn18(binary_downsample=True)
    downs = [d for d in m.modules() if isinstance(d, Downsample)]
    assert len(downs) == 3
    assert all(
        isinstance(d.conv, BinaryConv2d) and d.conv.kernel_size == (1, 1)
        and d.conv.pad_mode == "valid"
        for d in downs
    )
    assert count(m, BinaryConv2d) == 19
    check_traces(ftbnn_small(binary_downsample=True), torch.rand(1, 1, 8, 8) * 240)


@pytest.mark.parametrize("builder", [ftbnn_small, ftbnn_small_float])
def test_small_variants_run_and_trace(builder):
    m = builder()
    x = torch.rand(3, 1, 8, 8) * 240
    check_traces(m, x)
    assert m(x).shape == (3, 10)


def test_float_twin_has_no_binary_layers():
    f = ftbnn_small_float(nonlinearity="rprelu")
    assert count(f, BinaryConv2d) == 0 and count(f, RPReLU) == 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nonlinearity": "gelu"}, "nonlinearity"),
        ({"position": "middle"}, "position"),
        ({"groups": 0}, "groups"),
        ({"width": 0}, "width"),
        ({"width": "wide"}, "width"),
        ({"binary_downsample": 1}, "binary_downsample"),
        ({"num_classes": -1}, "num_classes"),
        ({"bias": "yes"}, "bias"),
        ({"shuffle": 1}, "shuffle"),
        ({"shuffle": True}, "needs groups > 1"),
        ({"bias": True, "nonlinearity": "relu"}, "no shifted form"),
    ],
)
@pytest.mark.parametrize("builder", [ftbnn18, ftbnn34, ftbnn_small])
def test_bad_arguments(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


def test_float_twin_needs_a_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity"):
        ftbnn_small_float(nonlinearity="none")


@pytest.mark.parametrize(("nonlinearity", "cls"), [("two_sided_prelu", TwoSidedPReLU),
                                                   ("prelu", RPReLU), ("rprelu", RPReLU)])
def test_bias_terms(nonlinearity, cls):
    """bias=True: every binary conv (3x3 and binary 1x1 downsample) reads a learnable-threshold
    sign; the non-linearity has shifts before and after it."""
    m = ftbnn_small(bias=True, nonlinearity=nonlinearity, binary_downsample=True)
    convs = [c for c in m.modules() if isinstance(c, BinaryConv2d)]
    assert len(convs) == 8
    for c in convs:
        q = c.quantizer
        assert isinstance(q, SignActivation) and q.shift is not None
        assert q.shift.numel() == c.in_channels and q.kind == "approx"
    nls = [b.nl for b in m.modules() if isinstance(b, BasicBlock)]
    assert all(isinstance(nl, cls) for nl in nls)
    if cls is TwoSidedPReLU:
        assert all(nl.gamma is not None for nl in nls)
    plain = ftbnn_small(nonlinearity=nonlinearity, binary_downsample=True)
    assert all(c.quantizer.shift is None for c in plain.modules()
               if isinstance(c, BinaryConv2d))
    check_traces(m, torch.rand(2, 1, 8, 8) * 240)


def test_shuffle_after_every_grouped_block():
    m = ftbnn_small(groups=2, width=2.0, shuffle=True)
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert all(isinstance(b.shuffle, ChannelShuffle) and b.shuffle.groups == 2 for b in blocks)
    assert all(b.shuffle is None for b in ftbnn_small(groups=2, width=2.0).modules()
               if isinstance(b, BasicBlock))
    check_traces(m, torch.rand(2, 1, 8, 8) * 240)


def test_ftbnn34_depth():
    m = ftbnn34(groups=2, width=1.0, bias=True, cifar=True, num_classes=10)
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert len(blocks) == 32
    assert [b.conv.stride for b in blocks].count(2) == 3
    assert m.stem.pool is None
    with torch.no_grad():
        assert m.eval()(torch.rand(1, 3, 32, 32) * 255).shape == (1, 10)
