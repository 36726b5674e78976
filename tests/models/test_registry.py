"""build() / available()."""

from __future__ import annotations

import pytest
import torch

from bnnflow.models import available, build
from bnnflow.nn import BinaryConv2d


def test_available():
    assert available() == [
        "birealnet18", "birealnet18_cifar", "birealnet34", "birealnet34_cifar",
        "birealnet_small", "birealnet_small_float", "ftbnn18", "ftbnn18_cifar", "ftbnn34",
        "ftbnn34_cifar", "ftbnn_small", "ftbnn_small_float", "quicknet", "reactnet18",
        "reactnet18_cifar", "reactnet_small", "resnet18", "resnet34",
    ]


@pytest.mark.parametrize("name", ["birealnet18", "birealnet34", "ftbnn18", "ftbnn34",
                                  "reactnet18"])
def test_cifar_variants(name):
    """``<name>_cifar``: 3x3/1 stem, no max pool, 10 classes; ``cifar`` is not an argument of
    the variant (it is fixed) but of the base builder."""
    m = build(f"{name}_cifar")
    assert m.stem.conv.kernel_size == (3, 3) and m.stem.conv.stride == (1, 1)
    assert m.stem.pool is None and m.fc.out_features == 10
    assert m.stem.conv.weight.shape == build(name, cifar=True).stem.conv.weight.shape
    assert build(name).stem.conv.kernel_size == (7, 7)
    with pytest.raises(ValueError, match="no argument 'cifar'"):
        build(f"{name}_cifar", cifar=False)
    assert build(f"{name}_cifar", num_classes=100).fc.out_features == 100


@pytest.mark.parametrize("name", ["birealnet_small", "ftbnn_small", "ftbnn_small_float"])
def test_build_small(name):
    assert build(name, num_classes=4)(torch.rand(1, 1, 8, 8) * 240).shape == (1, 4)


def test_build_passes_keyword_arguments():
    m = build("ftbnn18", groups=2, width=1.5, binary_downsample=True)
    assert {c.groups for c in m.modules() if isinstance(c, BinaryConv2d)} == {1, 2}


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match=r"available:.*quicknet"):
        build("resnet50")


def test_unknown_argument_lists_accepted():
    with pytest.raises(ValueError, match=r"'groups'.*accepted"):
        build("birealnet18", groups=2)
