"""Input normalisation with an integer zero point (docs/numerics.md §5, ``conv2d_int8``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class InputNormalize(nn.Module):
    """``y[c] = (x[c] - zero_point[c]) · scale[c]`` on NCHW raw pixel values 0..255.

    An integer zero point keeps zero padding exact once the normalisation is folded into the
    stem: the engine's padded pixel is ``zp``, which normalises to 0 as PyTorch pads.
    """

    def __init__(self, zero_point: Sequence[int], scale: Sequence[float]) -> None:
        super().__init__()
        zp, sc = list(zero_point), list(scale)
        if not zp or len(zp) != len(sc):
            raise ValueError(
                f"zero_point and scale need the same non-zero length, got {len(zp)} and {len(sc)}"
            )
        for v in zp:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
                raise ValueError(f"zero_point values must be integers in 0..255, got {v!r}")
        for v in sc:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf"):
                raise ValueError(f"scale values must be finite numbers > 0, got {v!r}")
        self.num_channels = len(zp)
        self.register_buffer("zero_point", torch.tensor(zp, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(sc, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.num_channels
        return (x - self.zero_point.view(1, c, 1, 1)) * self.scale.view(1, c, 1, 1)

    def extra_repr(self) -> str:
        return f"zero_point={self.zero_point.tolist()}, scale={self.scale.tolist()}"
