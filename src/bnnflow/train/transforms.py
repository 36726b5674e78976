"""The ImageNet transforms on PIL images, with torch generators (no torchvision).

- Training, :func:`random_resized_crop`: torchvision's ``RandomResizedCrop(size, scale=(0.08,
  1), ratio=(3/4, 4/3))`` algorithm — up to 10 draws of an area fraction ``s ~ U(0.08, 1)`` and
  a log-uniform aspect ratio ``r``, crop ``w = round(sqrt(s·A·r))``, ``h = round(sqrt(s·A/r))``
  at a uniform position if it fits; otherwise a centre crop of the whole image with the ratio
  clamped to the range — resized (bilinear) to ``size`` x ``size``, then a left-right flip with
  probability 1/2.
- Evaluation, :func:`resize_center_crop`: resize (bilinear) so that the shorter side is
  ``resize`` (aspect ratio kept), then the centre ``size`` x ``size`` crop; the ImageNet
  convention is ``resize = 256``, ``size = 224`` (:func:`eval_resize_for` scales 256/224).

Both return ``uint8 [3, size, size]`` tensors of raw pixels (the models normalise inside).
"""

from __future__ import annotations

import math

import numpy as np
import torch

SCALE = (0.08, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)


def eval_resize_for(size: int) -> int:
    """The shorter-side resize of evaluation for crop ``size``: ``round(size · 256 / 224)``."""
    return round(size * 256 / 224)


def crop_box(width: int, height: int, generator: torch.Generator) -> tuple[int, int, int, int]:
    """``(left, top, w, h)`` of a RandomResizedCrop on a ``width`` x ``height`` image."""
    area = width * height
    log_lo, log_hi = math.log(RATIO[0]), math.log(RATIO[1])
    for _ in range(10):
        u = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
        target = area * (SCALE[0] + (SCALE[1] - SCALE[0]) * u[0])
        ratio = math.exp(log_lo + (log_hi - log_lo) * u[1])
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return left, top, w, h
    ratio = width / height
    if ratio < RATIO[0]:
        w, h = width, round(width / RATIO[0])
    elif ratio > RATIO[1]:
        h, w = height, round(height * RATIO[1])
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def _to_tensor(img) -> torch.Tensor:  # PIL RGB image -> uint8 [3, H, W]
    array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def random_resized_crop(img, size: int, generator: torch.Generator, flip: bool = True
                        ) -> torch.Tensor:
    """RandomResizedCrop to ``size`` x ``size`` (+ flip with probability 1/2) of an RGB image."""
    from PIL import Image

    left, top, w, h = crop_box(img.width, img.height, generator)
    out = img.resize((size, size), Image.Resampling.BILINEAR,
                     box=(left, top, left + w, top + h))
    tensor = _to_tensor(out)
    if flip and float(torch.rand(1, generator=generator)) < 0.5:
        tensor = tensor.flip(-1)
    return tensor


def resize_center_crop(img, size: int, resize: int | None = None) -> torch.Tensor:
    """Shorter side to ``resize`` (default :func:`eval_resize_for`), centre ``size`` crop."""
    from PIL import Image

    resize = eval_resize_for(size) if resize is None else resize
    if resize < size:
        raise ValueError(f"evaluation resize {resize} is smaller than the crop {size}")
    scale = resize / min(img.width, img.height)
    w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
    out = img.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - size) // 2, (h - size) // 2
    return _to_tensor(out.crop((left, top, left + size, top + size)))
