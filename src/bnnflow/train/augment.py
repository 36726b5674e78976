"""Batch augmentation on NCHW pixel tensors, driven by an explicit ``torch.Generator``.

Randomness comes only from the generator passed in, so a run is reproducible from its seed
and an epoch can be replayed exactly on resume.

- ``shift`` (digits): translate each image by dy, dx ∈ {−pad..pad}, filling with 0 — the same
  as a random crop of the zero-padded image.
- ``crop_flip`` (CIFAR-10, image folders): random crop of the zero-padded image (pad 4, or
  1/8 of the side for other sizes) and a horizontal flip with probability 1/2.
"""

from __future__ import annotations

import torch


def random_crop(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Crop each ``[C, H, W]`` image at a random offset of the image zero-padded by ``pad``."""
    if pad <= 0:
        return images
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    out = torch.empty_like(images)
    for i in range(n):
        dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
        out[i] = padded[i, :, dy : dy + h, dx : dx + w]
    return out


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    mask = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(mask[:, None, None, None], images.flip(-1), images)


def crop_pad_for(height: int) -> int:
    """Padding of the random crop: 4 for 32x32 images (the CIFAR convention), side/8 otherwise."""
    return 4 if height == 32 else max(1, height // 8)


def augment_batch(images: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Apply the augmentation ``mode`` (``none``, ``shift``, ``crop_flip``) to a batch."""
    if mode == "none":
        return images
    if mode == "shift":
        return random_crop(images, 1, generator)
    if mode == "crop_flip":
        cropped = random_crop(images, crop_pad_for(images.shape[2]), generator)
        return random_flip(cropped, generator)
    raise ValueError(f"unknown augmentation {mode!r}; expected none, shift or crop_flip")
