"""Channel shuffle (ShuffleNet): mixes the channels of grouped layers between the groups."""

from __future__ import annotations

import torch
import torch.fx
from torch import nn

from ._checks import check_positive_int


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Permute channel axis 1 of ``x`` (``[N, C, ...]``, ``C = g·n``): output channel
    ``j·g + i`` is input channel ``i·n + j`` (``i < g``, ``j < n``) — view the channels as a
    ``g x n`` matrix, transpose it, flatten. The inverse is ``channel_shuffle(y, n)``."""
    _check_channels(x, groups)
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)


def _check_channels(x: torch.Tensor, groups: int) -> None:
    """``ValueError`` unless axis 1 of ``x`` divides into ``groups`` (one fx call when traced)."""
    if x.dim() < 2 or x.shape[1] % groups:
        raise ValueError(f"channel_shuffle(groups={groups}): input shape {list(x.shape)} needs "
                         f"a channel count (axis 1) divisible by {groups}")


torch.fx.wrap("_check_channels")


class ChannelShuffle(nn.Module):
    """:func:`channel_shuffle` with ``groups`` fixed; no parameters. One ``channel_shuffle``
    op in a converted graph (docs/format.md)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        check_positive_int("groups", groups)
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
