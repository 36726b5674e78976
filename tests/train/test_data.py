import numpy as np
import pytest
import torch
from PIL import Image

from bnnflow.train.data import (
    CIFAR_RECORD,
    DataError,
    load_data,
    read_cifar10_file,
)


def test_digits_split_is_fixed_stratified_and_scaled():
    a, b = load_data("digits"), load_data("digits")
    assert (len(a.train), len(a.test)) == (1437, 360)
    assert torch.equal(a.test.images, b.test.images)
    assert torch.equal(a.train.labels, b.train.labels)
    images, labels = a.test.fetch(torch.arange(len(a.test)))
    assert images.dtype == torch.float32 and images.shape == (360, 1, 8, 8)
    assert images.max() == 240 and images.min() == 0
    assert torch.all(images % 15 == 0)
    counts = torch.bincount(labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 per class
    assert a.describe()["in_channels"] == 1 and a.augment == "shift"


def _write_cifar(path, labels, seed=0):
    rng = np.random.default_rng(seed)
    records = np.zeros((len(labels), CIFAR_RECORD), dtype=np.uint8)
    records[:, 0] = labels
    records[:, 1:] = rng.integers(0, 256, (len(labels), CIFAR_RECORD - 1))
    records.tofile(path)
    return records


def test_cifar10_reads_binary_batches(tmp_path):
    written = [_write_cifar(tmp_path / f"data_batch_{i}.bin", [i, 9 - i], i) for i in range(1, 6)]
    test = _write_cifar(tmp_path / "test_batch.bin", [3, 4, 5], 7)
    data = load_data(f"cifar10:{tmp_path}")
    assert (len(data.train), len(data.test), data.in_channels) == (10, 3, 3)
    assert data.train.labels.tolist() == [1, 8, 2, 7, 3, 6, 4, 5, 5, 4]
    img, label = data.test.fetch(torch.tensor([1]))
    # channel-planar record: first 1024 bytes R, row-major 32x32
    assert img[0, 0, 0, 1] == test[1, 2] and img[0, 1, 0, 0] == test[1, 1 + 1024]
    assert img[0, 2, 31, 31] == test[1, -1] and label.item() == 4
    assert data.train.images[0, 0, 0, 0] == written[0][0, 1]
    assert data.class_names[0] == "airplane"


def test_cifar10_accepts_extracted_subfolder(tmp_path):
    sub = tmp_path / "cifar-10-batches-bin"
    sub.mkdir()
    for i in range(1, 6):
        _write_cifar(sub / f"data_batch_{i}.bin", [0])
    _write_cifar(sub / "test_batch.bin", [1])
    assert len(load_data(f"cifar10:{tmp_path}").train) == 5


def test_cifar10_missing_file_is_named(tmp_path):
    for i in range(1, 5):
        _write_cifar(tmp_path / f"data_batch_{i}.bin", [0])
    with pytest.raises(DataError, match=r"data_batch_5\.bin.*missing"):
        load_data(f"cifar10:{tmp_path}")


def test_cifar10_bad_size_and_label(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"\0" * (CIFAR_RECORD + 5))
    with pytest.raises(DataError, match=r"x.bin.*3078 bytes"):
        read_cifar10_file(bad)
    _write_cifar(bad, [2, 10])
    with pytest.raises(DataError, match="record 1 has label 10"):
        read_cifar10_file(bad)


def _png(path, value, size=(6, 5)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, 255 - value, 7)).save(path)


def test_imagefolder_train_test_layout(tmp_path):
    for split, n in (("train", 3), ("test", 1)):
        for cls, v in (("cat", 10), ("dog", 200)):
            for i in range(n):
                _png(tmp_path / split / cls / f"{i}.png", v + i)
    data = load_data(f"imagefolder:{tmp_path}")
    assert data.class_names == ["cat", "dog"] and data.image_size == (5, 6)
    assert (len(data.train), len(data.test)) == (6, 2)
    images, labels = data.test.fetch(torch.tensor([0, 1]))
    assert images.shape == (2, 3, 5, 6) and labels.tolist() == [0, 1]
    assert images[0, 0, 0, 0] == 10 and images[1, 1, 4, 5] == 55 and images[1, 2, 0, 0] == 7


def test_imagefolder_fixed_split_and_resize(tmp_path):
    for cls in ("a", "b", "c"):
        for i in range(10):
            _png(tmp_path / cls / f"{i}.png", i, size=(9 + i, 7))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    first = load_data(f"imagefolder:{tmp_path}", image_size=4)
    again = load_data(f"imagefolder:{tmp_path}", image_size=4)
    assert (len(first.train), len(first.test)) == (24, 6)
    assert first.test.paths == again.test.paths
    assert set(first.test.paths).isdisjoint(first.train.paths)
    images, _ = first.train.fetch(torch.arange(len(first.train)))
    assert images.shape == (24, 3, 4, 4)


def test_imagefolder_mixed_sizes_need_resize(tmp_path):
    _png(tmp_path / "train" / "a" / "0.png", 1, size=(4, 4))
    _png(tmp_path / "train" / "b" / "0.png", 1, size=(5, 4))
    _png(tmp_path / "test" / "a" / "0.png", 1, size=(4, 4))
    data = load_data(f"imagefolder:{tmp_path}")
    with pytest.raises(DataError, match="--image-size"):
        data.train.fetch(torch.tensor([1]))


def test_bad_specs(tmp_path):
    with pytest.raises(DataError, match="unknown data set 'mnist'"):
        load_data("mnist")
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"cifar10:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match="needs a directory"):
        load_data("imagefolder")
    with pytest.raises(DataError, match="at least 2 class folders"):
        load_data(f"imagefolder:{tmp_path}")
