import pytest
import torch

from bnnflow.train.augment import augment_batch, random_crop, random_flip


def test_crop_is_a_shift_with_zero_fill():
    x = torch.arange(1, 1 + 2 * 5 * 5, dtype=torch.float32).reshape(2, 1, 5, 5)
    out = random_crop(x, 1, torch.Generator().manual_seed(0))
    for i in range(2):
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = torch.zeros(5, 5)
                src = x[i, 0]
                ys, xs = slice(max(0, dy), 5 + min(0, dy)), slice(max(0, dx), 5 + min(0, dx))
                yd, xd = slice(max(0, -dy), 5 + min(0, -dy)), slice(max(0, -dx), 5 + min(0, -dx))
                shifted[yd, xd] = src[ys, xs]
                matches.append(torch.equal(out[i, 0], shifted))
        assert any(matches)


def test_same_generator_seed_same_result():
    x = torch.rand(8, 3, 32, 32) * 255
    a = augment_batch(x, "crop_flip", torch.Generator().manual_seed(5))
    b = augment_batch(x, "crop_flip", torch.Generator().manual_seed(5))
    c = augment_batch(x, "crop_flip", torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flip_flips_about_half():
    x = torch.arange(4.0).reshape(1, 1, 1, 4).repeat(400, 1, 1, 1)
    out = random_flip(x, torch.Generator().manual_seed(1))
    flipped = (out[:, 0, 0, 0] == 3).sum().item()
    assert 150 < flipped < 250
    assert torch.equal(out.sort(-1).values, x)


def test_none_and_unknown():
    x = torch.ones(1, 1, 4, 4)
    assert augment_batch(x, "none", torch.Generator()) is x
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch(x, "rotate", torch.Generator())
