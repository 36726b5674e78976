"""ReActNet-18: RSign (learnable-threshold sign) and RPReLU on Bi-Real-Net-18."""

from __future__ import annotations

import pytest
import torch

from bnnflow.models import reactnet18
from bnnflow.models.blocks import BasicBlock, Downsample
from bnnflow.models.reactnet import ConcatDownBlock
from bnnflow.nn import BinaryConv2d, QConv2d, RPReLU, SignActivation

from .fx_check import check_traces, count


def test_reactnet18_real_downsample():
    m = reactnet18()
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert len(blocks) == 16
    for b in blocks:
        assert isinstance(b.nl, RPReLU) and b.position == "after_add"
        q = b.conv.quantizer
        assert isinstance(q, SignActivation) and q.shift.numel() == b.conv.in_channels
    downs = [d for d in m.modules() if isinstance(d, Downsample)]
    assert len(downs) == 3 and all(isinstance(d.conv, QConv2d) for d in downs)
    with torch.no_grad():
        assert m.eval()(torch.rand(1, 3, 64, 64) * 255).shape == (1, 1000)


def test_reactnet18_concat_downsample():
    """The three stride-2 blocks: two half-width binary convs on one RSign, cat on channels."""
    m = reactnet18(downsample="concat", cifar=True, num_classes=10)
    cats = [b for b in m.modules() if isinstance(b, ConcatDownBlock)]
    assert len(cats) == 3 and count(m, Downsample) == 0
    assert [(c.conv_a.in_channels, c.conv_a.out_channels) for c in cats] == [
        (64, 64), (128, 128), (256, 256)]
    assert count(m, BinaryConv2d) == 19 and count(m, QConv2d) == 1
    x = torch.rand(2, 3, 32, 32) * 255
    graph = check_traces(m, x)
    assert any(n.target is torch.cat for n in graph.nodes)
    with pytest.raises(ValueError, match="doubles the channels"):
        ConcatDownBlock(8, 8, 2)


@pytest.mark.parametrize(("kwargs", "match"), [({"downsample": "conv"}, "downsample"),
                                               ({"cifar": 1}, "cifar"),
                                               ({"num_classes": 0}, "num_classes")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        reactnet18(**kwargs)
