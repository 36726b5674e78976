"""QuickNet (larq-zoo v1.0 topology)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bnnflow.models import quicknet
from bnnflow.models.quicknet import QuickNetBlock, QuickNetTransition, blurpool_weight
from bnnflow.nn import BinaryConv2d, QConv2d

from .fx_check import check_traces, count, output_sizes


def expected_quicknet_params(num_classes: int) -> int:
    """Layer-by-layer count of larq-zoo QuickNet's weights (BN scale/shift, no statistics)."""
    stem = 3 * 16 * 9 + 2 * 16 + 16 * 9 + 16 * 64 + 2 * 64
    blocks = sum(4 * (c * c * 9 + 2 * c) for c in (64, 128, 256, 512))
    trans = sum(i * 9 + i * o + 2 * o for i, o in [(64, 128), (128, 256), (256, 512)])
    return stem + blocks + trans + 512 * num_classes + num_classes


def test_quicknet_topology():
    m = quicknet()
    blocks = [b for b in m.modules() if isinstance(b, QuickNetBlock)]
    assert len(blocks) == 16 and count(m, QuickNetTransition) == 3
    assert [type(b).__name__ for b in m.blocks][:6] == [
        "QuickNetBlock", "QuickNetBlock", "QuickNetBlock", "QuickNetBlock",
        "QuickNetTransition", "QuickNetBlock",
    ]
    for b in blocks:
        c = b.conv
        assert c.pad_mode == "one" and c.weight_scale == "none" and c.quantizer.kind == "ste"
        assert c.quantizer.clip_value == 1.25 and c.weight_clip_value == 1.25
    assert count(m, BinaryConv2d) == 16
    assert m.stem.dwconv.groups == 16 and not m.stem.bn2.affine
    assert (m.stem.bn1.momentum, m.stem.bn1.eps) == (0.01, 1e-3)  # Keras defaults
    assert all((b.bn.momentum, b.bn.eps) == (0.1, 1e-5) for b in blocks)
    assert sum(p.numel() for p in m.parameters()) == expected_quicknet_params(1000)


def test_transition_blurpool_is_fixed():
    t = QuickNetTransition(8, 16)
    assert not t.blur.weight.requires_grad
    assert torch.equal(t.blur.weight, blurpool_weight(8))
    assert blurpool_weight(1).sum().item() == pytest.approx(1.0)
    assert isinstance(t.conv, QConv2d) and isinstance(t.pool, nn.MaxPool2d)


def test_quicknet_forward_224():
    m = quicknet(num_classes=10)
    x = torch.rand(1, 3, 224, 224) * 255
    sizes = output_sizes(m, ["stem", "blocks.3", "blocks.8", "blocks.13", "blocks.18"], x)
    assert sizes == {
        "stem": (1, 64, 56, 56), "blocks.3": (1, 64, 56, 56), "blocks.8": (1, 128, 28, 28),
        "blocks.13": (1, 256, 14, 14), "blocks.18": (1, 512, 7, 7),
    }
    check_traces(m, None)  # outputs compared on 224x224 in the slow test


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        quicknet(num_classes=0)
