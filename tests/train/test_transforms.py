"""The ImageNet transforms (RandomResizedCrop + flip; resize 256/224 + centre crop)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bnnflow.train import transforms
from bnnflow.train.data import DataError, load_data


@settings(max_examples=80, deadline=None)
@given(w=st.integers(1, 400), h=st.integers(1, 400), seed=st.integers(0, 2**31))
def test_crop_box_lies_inside_with_the_recipe_area_and_ratio(w, h, seed):
    g = torch.Generator().manual_seed(seed)
    left, top, cw, ch = transforms.crop_box(w, h, g)
    assert left >= 0 and top >= 0 and cw > 0 and ch > 0
    assert left + cw <= w and top + ch <= h
    again = transforms.crop_box(w, h, torch.Generator().manual_seed(seed))
    assert again == (left, top, cw, ch)
    if w * h >= 10_000 and 3 / 4 <= w / h <= 4 / 3:  # rounding is small: area and ratio
        assert 0.08 * 0.95 <= cw * ch / (w * h) <= 1.0
        assert 3 / 4 * 0.94 <= cw / ch <= 4 / 3 * 1.06


def _gradient(width: int, height: int) -> Image.Image:
    """Column x has value 4x in every channel."""
    row = (np.arange(width) * 4).clip(0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(np.tile(row, (height, 1))[..., None], 3, axis=2))


def test_eval_transform_keeps_the_aspect_ratio_and_crops_the_centre():
    out = transforms.resize_center_crop(_gradient(64, 32), size=14, resize=16)
    assert out.shape == (3, 14, 14) and out.dtype == torch.uint8
    # 64x32 -> 32x16 (aspect kept), centre columns 9..22 of 32 = original columns ~18..45;
    # a squash to 14x14 would span the whole gradient 0..252
    first, last = float(out[0, :, 0].float().mean()), float(out[0, :, -1].float().mean())
    assert 60 < first < 90 and 165 < last < 195
    assert transforms.eval_resize_for(224) == 256
    with pytest.raises(ValueError, match="smaller than the crop"):
        transforms.resize_center_crop(_gradient(8, 8), size=8, resize=6)


def test_random_resized_crop_is_seeded_and_flips():
    img = _gradient(50, 40)
    a = transforms.random_resized_crop(img, 12, torch.Generator().manual_seed(1))
    b = transforms.random_resized_crop(img, 12, torch.Generator().manual_seed(1))
    assert a.shape == (3, 12, 12) and torch.equal(a, b)
    flips = [bool((c[0, 0, -1] < c[0, 0, 0]).item()) for c in (
        transforms.random_resized_crop(img, 12, torch.Generator().manual_seed(s))
        for s in range(40))]
    assert 5 < sum(flips) < 35  # about half the crops are mirrored (gradient decreasing)


def _folder(root, sizes):
    for split in ("train", "test"):
        for c in range(2):
            folder = root / split / f"c{c}"
            folder.mkdir(parents=True)
            for i, (w, h) in enumerate(sizes):
                _gradient(w, h).save(folder / f"{i}.png")


def test_imagefolder_with_imagenet_transforms(tmp_path):
    _folder(tmp_path, [(40, 30), (30, 50), (64, 64)])  # mixed sizes are fine
    data = load_data(f"imagefolder:{tmp_path}", 16, "imagenet")
    assert data.image_size == (16, 16) and data.augment == "decode"
    assert data.describe()["transforms"] == "imagenet"
    idx = torch.arange(len(data.train))
    x1, y = data.train.fetch(idx, seed=5)
    x2, _ = data.train.fetch(idx, seed=5)
    x3, _ = data.train.fetch(idx, seed=6)
    assert x1.shape == (6, 3, 16, 16) and torch.equal(x1, x2) and torch.equal(y, data.train.labels)
    plain, _ = data.test.fetch(torch.tensor([1]))
    with Image.open(data.test.paths[1]) as img:
        expected = transforms.resize_center_crop(img.convert("RGB"), 16)
    assert torch.equal(plain[0], expected.float())
    assert data.train.fetch(idx)[0].shape == (6, 3, 16, 16)  # no seed: the eval transform
    assert not torch.equal(x1, x3)  # another seed, other crops of the gradients
    with pytest.raises(DataError, match="applies to imagefolder"):
        load_data("digits", None, "imagenet")
    with pytest.raises(DataError, match="--transforms must be one of"):
        load_data("digits", None, "squash")
