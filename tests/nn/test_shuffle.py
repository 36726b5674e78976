"""channel_shuffle / ChannelShuffle: the ShuffleNet permutation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from bnnflow.nn import ChannelShuffle, channel_shuffle


def test_permutation_values():
    x = torch.arange(6.0).view(1, 6, 1, 1)  # g=2, n=3: [0 1 2 | 3 4 5] → [0 3 1 4 2 5]
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


@given(st.integers(1, 6), st.integers(1, 6), st.sampled_from([2, 4]))
def test_rule_and_inverse(g, n, rank):
    c = g * n
    x = torch.randn(2, c, *([3] * (rank - 2)))
    y = channel_shuffle(x, g)
    for i in range(g):
        for j in range(n):
            assert torch.equal(y[:, j * g + i], x[:, i * n + j])
    assert torch.equal(channel_shuffle(y, n), x)


def test_module_traces_and_checks():
    m = ChannelShuffle(4)
    gm = torch.fx.symbolic_trace(m)
    x = torch.randn(2, 8, 3, 3)
    assert torch.equal(gm(x), m(x))
    with pytest.raises(ValueError, match=r"groups=4.*divisible by 4"):
        m(torch.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match="groups"):
        ChannelShuffle(0)
    assert "groups=4" in repr(m)
