"""TensorFlow ``padding='same'`` for the Larq-compatible models (``tf_padding=True``).

TF pads ``total = max((ceil(n/s) − 1)·s + k − n, 0)`` along an axis of size ``n``, with
``total // 2`` before and the rest after: at stride 2 on an even input the extra row and
column go to the bottom and right, where PyTorch's symmetric ``padding=k//2`` puts one on
each side. These modules compute the per-side amounts from the input's size at run time.

The converter (``bnnflow.convert``) writes them as the ``.bnn`` format's per-side ``padding``
attr ``[top, left, bottom, right]`` (format.md, Padding): a :class:`TFSamePad` folds into the
``Conv2d`` / ``MaxPool2d`` it feeds (which must have ``padding=0``), and a
:class:`TFSameBinaryConv2d` becomes a ``bconv`` with that padding and its ``pad_mode``.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from bnnflow.nn import BinaryConv2d
from bnnflow.nn.binary import BinaryConvSpec


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """``(before, after)`` padding of TF's 'same' along one axis of ``size`` elements."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def same_pads_2d(h: int, w: int, kernel: int, stride: int) -> int | list[int]:
    """TF 'same' padding of an ``h x w`` input as the ``padding`` attr: an int when all four
    sides agree, else ``[top, left, bottom, right]``."""
    top, bottom = tf_same_pads(h, kernel, stride)
    left, right = tf_same_pads(w, kernel, stride)
    pads = [top, left, bottom, right]
    return top if len(set(pads)) == 1 else pads


def _pad(x: torch.Tensor, kernel: int, stride: int, value: float) -> torch.Tensor:
    top, bottom = tf_same_pads(int(x.shape[-2]), kernel, stride)
    left, right = tf_same_pads(int(x.shape[-1]), kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


class TFSamePad(nn.Module):
    """Pads NCHW ``x`` as TF 'same' does for a ``kernel``/``stride`` window that follows
    (with ``value``: 0 for a convolution, ``-inf`` for a max pool)."""

    bnnflow_leaf = True  # the converter's tracer keeps it as one module call

    def __init__(self, kernel: int, stride: int, value: float = 0.0) -> None:
        super().__init__()
        self.kernel, self.stride, self.value = kernel, stride, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _pad(x, self.kernel, self.stride, self.value)

    def pads(self, h: int, w: int) -> int | list[int]:
        """The ``padding`` attr for an ``h x w`` input (:func:`same_pads_2d`)."""
        return same_pads_2d(h, w, self.kernel, self.stride)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, value={self.value}"


class TFSameBinaryConv2d(BinaryConv2d):
    """:class:`~bnnflow.nn.BinaryConv2d` with TF 'same' padding of the binarised input:
    padded taps are 0 (``pad_mode='zero'``, Larq ``pad_values=0``) or +1 (``'one'``)."""

    tf_same = True
    bnnflow_leaf = True  # the converter's tracer keeps it as one module call

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.pad_mode == "valid":
            raise ValueError("TFSameBinaryConv2d needs pad_mode 'zero' or 'one', got 'valid'")
        if self.kernel_size[0] != self.kernel_size[1]:
            raise ValueError(f"TFSameBinaryConv2d needs a square kernel, got {self.kernel_size}")

    def _conv_signs(self, xb: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
        value = 1.0 if self.pad_mode == "one" else 0.0
        xb = _pad(xb, self.kernel_size[0], self.stride, value)
        return F.conv2d(xb, wb, None, self.stride, 0, 1, self.groups)

    def deploy_spec(self, in_hw: tuple[int, int] | None = None) -> BinaryConvSpec:
        """The converter's view, its ``padding`` TF's for an input of ``in_hw`` (needed: the
        per-side amounts depend on the input size)."""
        if in_hw is None:
            raise ValueError("TFSameBinaryConv2d.deploy_spec needs the input size in_hw: TF "
                             "'same' padding depends on it")
        spec = super().deploy_spec()
        pads = same_pads_2d(in_hw[0], in_hw[1], self.kernel_size[0], self.stride)
        return dataclasses.replace(spec, padding=pads)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", tf_same=True"
