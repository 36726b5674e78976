"""build() / available()."""

from __future__ import annotations

import pytest
import torch

from bnnflow.models import available, build
from bnnflow.nn import BinaryConv2d


def test_available():
    assert available() == [
        "birealnet18", "birealnet_small", "birealnet_small_float", "ftbnn18", "ftbnn_small",
        "ftbnn_small_float", "quicknet", "resnet18", "resnet34",
    ]


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
