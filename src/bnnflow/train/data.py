"""Image classification data sets for training: ``digits``, ``cifar10:DIR``, ``imagefolder:DIR``.

Every data set yields NCHW ``float32`` tensors of *raw pixel values* (0..255, integer-valued):
the models normalise inside, so the engine can take uint8 images as they are. Labels are
``int64`` class indices.

- ``digits`` — scikit-learn's 8x8 handwritten digits (1797 images, shipped with
  scikit-learn, no download). Pixel values 0..16 are scaled by 15 to 0..240. Split: a fixed
  stratified 80/20 train/test split (``train_test_split(..., test_size=0.2,
  random_state=0, stratify=y)``): 1437 training, 360 test images, 1x8x8.
- ``cifar10:DIR`` — the CIFAR-10 *binary* distribution (``data_batch_1.bin`` ..
  ``data_batch_5.bin``, ``test_batch.bin``; DIR may also be the folder that holds
  ``cifar-10-batches-bin``). Each record is 1 label byte + 3072 pixel bytes (1024 R, 1024 G,
  1024 B, row-major 32x32). No pickle is read.
- ``imagefolder:DIR`` — ``DIR/train/<class>/*`` and ``DIR/test/<class>/*``, or
  ``DIR/<class>/*`` split per class with a fixed seed (20 % test). Images are decoded with
  PIL as RGB and resized to ``image_size`` x ``image_size`` when given (otherwise all
  images must share one size). Images are decoded lazily, batch by batch.
  With ``transforms="imagenet"`` (``--transforms imagenet``) the ImageNet recipe replaces the
  square resize: training images get RandomResizedCrop to ``image_size`` (default 224) and a
  flip, evaluation images a shorter-side resize to ``round(image_size·256/224)`` and a centre
  crop (bnnflow.train.transforms); images may then have any size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff",
                    ".webp")
CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch.bin"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")
IMAGEFOLDER_TEST_FRACTION = 0.2
SPLIT_SEED = 0
TRANSFORMS = ("resize", "imagenet")
IMAGENET_SIZE = 224


class DataError(ValueError):
    """A data set that cannot be read: a missing file, a bad size, an unknown spec."""


class Split(Protocol):
    """One split of a data set: ``len`` images, fetched by index as a batch."""

    labels: torch.Tensor

    def __len__(self) -> int: ...

    def fetch(self, indices: torch.Tensor, seed: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (images ``float32 [B, C, H, W]`` with values 0..255, labels ``int64 [B]``).

        ``seed``: draw the split's decode-time training augmentation (the ImageNet
        RandomResizedCrop) from a generator seeded with it; ``None``: the evaluation
        transform. Splits without decode-time augmentation ignore it.
        """
        ...


@dataclass
class TensorSplit:
    """A split held in memory: ``images`` uint8 ``[N, C, H, W]``, ``labels`` int64 ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def fetch(self, indices: torch.Tensor, seed: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[indices].float(), self.labels[indices]


@dataclass
class FileSplit:
    """A split decoded from image files on demand (PIL, RGB).

    ``transforms``: ``"resize"`` (optional square resize to ``image_size``) or ``"imagenet"``
    (RandomResizedCrop + flip when fetched with a seed, else resize 256/224 + centre crop).
    """

    paths: list[Path]
    labels: torch.Tensor
    image_size: int | None
    shape: tuple[int, int, int]
    transforms: str = "resize"

    def __len__(self) -> int:
        return len(self.paths)

    def fetch(self, indices: torch.Tensor, seed: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.transforms == "imagenet":
            g = None if seed is None else torch.Generator().manual_seed(seed)
            images = [_decode_imagenet(self.paths[int(i)], self.shape[1], g) for i in indices]
        else:
            images = [_decode(self.paths[int(i)], self.image_size, self.shape) for i in indices]
        return torch.stack(images).float(), self.labels[indices]


@dataclass
class ImageData:
    """A data set: the train and test splits plus what a model needs to know about it."""

    spec: str
    train: Split
    test: Split
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    class_names: list[str] = field(default_factory=list)
    # "shift" (digits), "crop_flip" (cifar10, imagefolder) or "decode" (imagefolder with the
    # ImageNet transforms: the training split augments while decoding, given a seed)
    augment: str = "none"
    transforms: str = "resize"

    def describe(self) -> dict:
        """A JSON-able summary stored in checkpoints and config.json."""
        return {
            "spec": self.spec,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "image_size": list(self.image_size),
            "class_names": list(self.class_names),
            "train_size": len(self.train),
            "test_size": len(self.test),
            "transforms": self.transforms,
        }


def load_data(spec: str, image_size: int | None = None, transforms: str = "resize"
              ) -> ImageData:
    """Open the data set named by ``spec`` (``digits``, ``cifar10:DIR``, ``imagefolder:DIR``).

    ``transforms="imagenet"`` (image folders only) selects the ImageNet recipe.
    Raises :class:`DataError` naming the spec, the missing file or the bad size.
    """
    kind, _, arg = spec.partition(":")
    if transforms not in TRANSFORMS:
        raise DataError(f"--transforms must be one of {', '.join(TRANSFORMS)}, got "
                        f"{transforms!r}")
    if transforms == "imagenet" and kind != "imagefolder":
        raise DataError(f"--transforms imagenet applies to imagefolder:DIR data, not {spec!r}")
    if kind == "digits":
        if arg:
            raise DataError(f"data set 'digits' takes no argument, got {spec!r}")
        return load_digits()
    if kind in ("cifar10", "imagefolder"):
        if not arg:
            raise DataError(f"data set {kind!r} needs a directory: --data {kind}:DIR")
        root = Path(arg)
        if not root.is_dir():
            raise DataError(f"data directory {str(root)!r} (from --data {spec}) does not exist")
        if kind == "cifar10":
            return load_cifar10(root, spec)
        return load_imagefolder(root, spec, image_size, transforms)
    raise DataError(
        f"unknown data set {spec!r}; expected one of: digits, cifar10:DIR, imagefolder:DIR"
    )


def load_digits() -> ImageData:
    """scikit-learn's 8x8 digits, pixels ×15 (0..240), fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images = (bunch.images * 15).astype(np.uint8)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.2, random_state=SPLIT_SEED, stratify=labels
    )
    return ImageData(
        spec="digits",
        train=TensorSplit(torch.from_numpy(x_train), torch.from_numpy(y_train)),
        test=TensorSplit(torch.from_numpy(x_test), torch.from_numpy(y_test)),
        num_classes=10,
        in_channels=1,
        image_size=(8, 8),
        class_names=[str(i) for i in range(10)],
        augment="shift",
    )


def read_cifar10_file(path: Path) -> TensorSplit:
    """Read one CIFAR-10 binary batch file (records of 1 label byte + 3072 pixel bytes)."""
    if not path.is_file():
        raise DataError(f"CIFAR-10 file {str(path)!r} is missing")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR_RECORD:
        raise DataError(
            f"CIFAR-10 file {str(path)!r} has {raw.size} bytes, not a positive multiple of "
            f"the {CIFAR_RECORD}-byte record (1 label byte + 3072 pixel bytes)"
        )
    records = raw.reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise DataError(
            f"CIFAR-10 file {str(path)!r}: record {bad} has label {labels[bad]}, expected 0..9"
        )
    images = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32))
    return TensorSplit(torch.from_numpy(images), torch.from_numpy(labels))


def load_cifar10(root: Path, spec: str) -> ImageData:
    """The CIFAR-10 binary distribution under ``root`` (or ``root/cifar-10-batches-bin``)."""
    if not (root / CIFAR_TEST_FILE).exists() and (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"
    parts = [read_cifar10_file(root / name) for name in CIFAR_TRAIN_FILES]
    train = TensorSplit(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]))
    test = read_cifar10_file(root / CIFAR_TEST_FILE)
    names = list(CIFAR_CLASSES)
    meta = root / "batches.meta.txt"
    if meta.is_file():
        listed = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
        if len(listed) == 10:
            names = listed
    return ImageData(spec, train, test, 10, 3, (32, 32), names, augment="crop_flip")


def _decode(path: Path, image_size: int | None, shape: tuple[int, int, int]) -> torch.Tensor:
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            if image_size is not None:
                rgb = rgb.resize((image_size, image_size), Image.Resampling.BILINEAR)
            array = np.asarray(rgb, dtype=np.uint8)
    except OSError as err:
        raise DataError(f"cannot read image {str(path)!r}: {err}") from err
    tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
    if tuple(tensor.shape) != shape:
        raise DataError(
            f"image {str(path)!r} is {tensor.shape[2]}x{tensor.shape[1]}, the data set's first "
            f"image is {shape[2]}x{shape[1]}; pass --image-size to resize all images"
        )
    return tensor


def _decode_imagenet(path: Path, size: int, generator: torch.Generator | None
                     ) -> torch.Tensor:
    from PIL import Image

    from bnnflow.train import transforms

    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            if generator is None:
                return transforms.resize_center_crop(rgb, size)
            return transforms.random_resized_crop(rgb, size, generator)
    except OSError as err:
        raise DataError(f"cannot read image {str(path)!r}: {err}") from err


def _list_classes(folder: Path) -> dict[str, list[Path]]:
    classes: dict[str, list[Path]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(
            f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
        )
        if files:
            classes[sub.name] = files
    return classes


def _fixed_split(
    classes: dict[str, list[Path]],
) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Per class, a seeded 20 % go to test (at least one when a class has ≥ 2 images)."""
    rng = np.random.default_rng(SPLIT_SEED)
    train: dict[str, list[Path]] = {}
    test: dict[str, list[Path]] = {}
    for name, files in classes.items():
        order = rng.permutation(len(files))
        n_test = round(len(files) * IMAGEFOLDER_TEST_FRACTION)
        n_test = max(n_test, 1) if len(files) >= 2 else 0
        test[name] = [files[i] for i in sorted(order[:n_test])]
        train[name] = [files[i] for i in sorted(order[n_test:])]
    return train, test


def _file_split(
    classes: dict[str, list[Path]], names: list[str], image_size: int | None,
    shape: tuple[int, int, int], transforms: str = "resize",
) -> FileSplit:
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(names):
        for f in classes.get(name, []):
            paths.append(f)
            labels.append(index)
    return FileSplit(paths, torch.tensor(labels, dtype=torch.int64), image_size, shape,
                     transforms)


def load_imagefolder(root: Path, spec: str, image_size: int | None,
                     transforms: str = "resize") -> ImageData:
    """``root/train/<class>/*`` + ``root/test/<class>/*``, or ``root/<class>/*`` split 80/20."""
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_classes, test_classes = _list_classes(root / "train"), _list_classes(root / "test")
        unknown = sorted(set(test_classes) - set(train_classes))
        if unknown:
            raise DataError(
                f"imagefolder {str(root)!r}: test classes {unknown} have no training images"
            )
    else:
        train_classes, test_classes = _fixed_split(_list_classes(root))
    names = sorted(train_classes)
    if len(names) < 2:
        raise DataError(
            f"imagefolder {str(root)!r} needs at least 2 class folders with images "
            f"({', '.join(IMAGE_EXTENSIONS)}), found {len(names)}"
        )
    first = train_classes[names[0]][0]
    from PIL import Image

    if transforms == "imagenet":
        image_size = image_size or IMAGENET_SIZE
    with Image.open(first) as img:
        width, height = (image_size, image_size) if image_size else img.size
    shape = (3, height, width)
    train = _file_split(train_classes, names, image_size, shape, transforms)
    test = _file_split(test_classes, names, image_size, shape, transforms)
    if len(test) == 0:
        raise DataError(f"imagefolder {str(root)!r} has no test images")
    augment = "decode" if transforms == "imagenet" else "crop_flip"
    return ImageData(spec, train, test, len(names), 3, (height, width), names, augment,
                     transforms)


def data_spec_kind(spec: str) -> str:
    """The kind of a data spec (``digits``, ``cifar10``, ``imagefolder``)."""
    return spec.partition(":")[0]


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
