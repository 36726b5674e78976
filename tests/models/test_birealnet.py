"""Bi-Real-Net-18 (larq-zoo topology) and the small digits variants."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bnnflow.models import birealnet18, birealnet34, birealnet_small, birealnet_small_float
from bnnflow.models.blocks import Downsample
from bnnflow.nn import BinaryConv2d, InputNormalize, Int8Point, QConv2d, QLinear

from .fx_check import check_traces, count, output_sizes


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def expected_birealnet18_params(num_classes: int) -> int:
    """Layer-by-layer count of larq-zoo's BiRealNet trainable weights."""
    stem = 3 * 64 * 49 + 2 * 64
    widths = [64] * 4 + [128] * 4 + [256] * 4 + [512] * 4
    ins = [64, *widths[:-1]]
    convs = sum(i * o * 9 + 2 * o for i, o in zip(ins, widths, strict=True))
    downs = sum(i * o + 2 * o for i, o in [(64, 128), (128, 256), (256, 512)])
    return stem + convs + downs + 512 * num_classes + num_classes


def test_birealnet18_topology():
    m = birealnet18()
    convs = [c for c in m.modules() if isinstance(c, BinaryConv2d)]
    assert len(convs) == 16
    assert all(
        c.kernel_size == (3, 3) and c.pad_mode == "zero" and c.weight_scale == "channel_mean"
        and c.quantizer.kind == "approx" and c.groups == 1
        for c in convs
    )
    assert [c.stride for c in convs] == [1] * 4 + [2, 1, 1, 1] * 3
    downs = [d for d in m.modules() if isinstance(d, Downsample)]
    assert len(downs) == 3 and all(isinstance(d.conv, QConv2d) for d in downs)
    assert all(d.pool.kernel_size == 2 and d.conv.kernel_size == (1, 1) for d in downs)
    assert m.stem.conv.kernel_size == (7, 7) and m.stem.conv.stride == (2, 2)
    assert isinstance(m.normalize, InputNormalize) and isinstance(m.fc, QLinear)
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    assert len(bns) == 20 and all(b.momentum == 0.2 and b.eps == 1e-3 for b in bns)  # Keras 0.8
    assert count(m, nn.ReLU) == 0 and count(m, nn.PReLU) == 0  # the sign is the only non-linearity
    # larq-zoo reports 11,699,112 parameters, which includes 9,600 BN moving statistics.
    assert n_params(m) == expected_birealnet18_params(1000) == 11_699_112 - 9_600


def test_birealnet18_forward_224():
    m = birealnet18(num_classes=7)
    x = torch.rand(1, 3, 224, 224) * 255
    sizes = output_sizes(m, ["stem", "blocks.3", "blocks.7", "blocks.11", "blocks.15", "fc"], x)
    assert sizes == {
        "stem": (1, 64, 56, 56), "blocks.3": (1, 64, 56, 56), "blocks.7": (1, 128, 28, 28),
        "blocks.11": (1, 256, 14, 14), "blocks.15": (1, 512, 7, 7), "fc": (1, 7),
    }
    check_traces(m, None)  # outputs compared on 224x224 in the slow test


def test_birealnet18_other_input_channels():
    m = birealnet18(num_classes=3, in_channels=1)
    assert m(torch.rand(2, 1, 64, 64) * 255).shape == (2, 3)


@pytest.mark.parametrize("builder", [birealnet_small, birealnet_small_float])
def test_small_variants_run_and_trace(builder):
    m = builder()
    x = torch.rand(4, 1, 8, 8) * 240
    check_traces(m, x)
    assert m(x).shape == (4, 10)
    assert count(m, Int8Point) > 0


def test_small_binary_and_float_twins_share_topology():
    b, f = birealnet_small(), birealnet_small_float()
    assert count(b, BinaryConv2d) == 6 and count(f, BinaryConv2d) == 0
    assert count(f, nn.ReLU) == 6 and count(b, nn.ReLU) == 0
    assert n_params(b) == n_params(f)


@pytest.mark.parametrize("builder", [birealnet18, birealnet_small, birealnet_small_float])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"num_classes": 0}, "num_classes"), ({"in_channels": 1.5}, "in_channels")],
)
def test_bad_arguments(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


def test_birealnet34_topology():
    """(6, 8, 12, 6) Bi-Real blocks: 32 binary 3x3 convs, 3 real downsamples; parameters as
    Bi-Real-Net-18's count with the extra 3x3 convs of each stage."""
    m = birealnet34()
    convs = [c for c in m.modules() if isinstance(c, BinaryConv2d)]
    assert len(convs) == 32 and count(m, Downsample) == 3
    extra = sum(n * (w * w * 9 + 2 * w) for n, w in [(2, 64), (4, 128), (8, 256), (2, 512)])
    assert n_params(m) == expected_birealnet18_params(1000) + extra
    check_traces(birealnet34(cifar=True, num_classes=10), torch.rand(1, 3, 32, 32) * 255)
