"""InputNormalize: values and argument checks."""

from __future__ import annotations

import pytest
import torch

from bnnflow.nn import InputNormalize


def test_normalize_values():
    n = InputNormalize([0, 128], [0.5, 0.25])
    x = torch.tensor([[[[0.0, 255.0]], [[128.0, 0.0]]]])
    assert n(x).flatten().tolist() == [0.0, 127.5, 0.0, -32.0]
    assert n.num_channels == 2


@pytest.mark.parametrize(
    ("zp", "scale", "match"),
    [
        ([0, 1], [1.0], "same non-zero length"),
        ([], [], "same non-zero length"),
        ([256], [1.0], "zero_point"),
        ([1.5], [1.0], "zero_point"),
        ([-1], [1.0], "zero_point"),
        ([0], [0.0], "scale"),
        ([0], [float("inf")], "scale"),
    ],
)
def test_normalize_rejects_bad_arguments(zp, scale, match):
    with pytest.raises(ValueError, match=match):
        InputNormalize(zp, scale)
