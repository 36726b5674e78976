"""The ``padding`` attr of the windowed ops: an int ``p`` (every side) or a list
``[top, left, bottom, right]`` (docs/format.md, Padding; the list form is format version 2).

For input ``H x W``, kernel ``KH x KW`` and stride ``s`` the output is
``Ho = (H + top + bottom - KH) // s + 1`` (``Wo`` likewise with left/right), and output pixel
``(y, x)`` reads tap ``(i, j)`` at input ``(y*s - top + i, x*s - left + j)``; a tap outside the
image is a padded tap. Never imports torch.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

#: ``(top, left, bottom, right)``.
Pads = tuple[int, int, int, int]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def as_pads(padding: int | Sequence[int]) -> Pads:
    """``(top, left, bottom, right)`` of an int ``p`` (``(p, p, p, p)``) or of a 4-sequence.

    Raises ``ValueError`` unless ``padding`` is a non-negative int or a sequence of four
    (bools and floats are not ints: ``1.5`` is refused, not truncated)."""
    if _is_int(padding):
        t = (int(padding),) * 4  # type: ignore[arg-type]
    elif (isinstance(padding, Sequence) and not isinstance(padding, str) and len(padding) == 4
          and all(_is_int(v) for v in padding)):
        t = tuple(int(v) for v in padding)
    else:
        raise ValueError(f"padding must be an int or [top, left, bottom, right] of ints, got "
                         f"{padding!r}")
    if min(t) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return t  # type: ignore[return-value]


def pads(attrs: Mapping[str, Any]) -> Pads:
    """``(top, left, bottom, right)`` of an op's ``padding`` attr (either form)."""
    return as_pads(attrs["padding"])


def padding_attr(top: int, left: int, bottom: int, right: int) -> int | list[int]:
    """The attr value: the int when the four sides are equal (so a file without asymmetric
    padding stays format version 1), else ``[top, left, bottom, right]``."""
    if top == left == bottom == right:
        return top
    return [top, left, bottom, right]


def is_list_padding(value: Any) -> bool:
    """Whether a ``padding`` attr value uses the list form (format version 2)."""
    return isinstance(value, list | tuple)


def same_padding_1d(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``SAME`` padding of one axis: ``out = ceil(size / stride)``,
    ``total = max((out - 1)·stride + kernel - size, 0)``, ``(total // 2, total - total // 2)``
    (the extra row/column at the end)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf_same_padding(h: int, w: int, kh: int, kw: int, stride: int) -> int | list[int]:
    """TensorFlow ``padding="SAME"`` for an ``h x w`` input as a ``padding`` attr value."""
    top, bottom = same_padding_1d(h, kh, stride)
    left, right = same_padding_1d(w, kw, stride)
    return padding_attr(top, left, bottom, right)


def out_size(size: int, kernel: int, stride: int, begin: int, end: int) -> int:
    """``(size + begin + end - kernel) // stride + 1`` (0 or less: the kernel does not fit)."""
    return (size + begin + end - kernel) // stride + 1


def padding_text(value: Any) -> str:
    """The attr value as messages show it: ``1`` or ``[0, 0, 1, 1]``."""
    return str(list(value)) if is_list_padding(value) else str(value)
