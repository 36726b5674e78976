"""Float ResNet-18/34 teachers: torchvision's state_dict keys, strict loading, the input
normalisation."""

from __future__ import annotations

import pytest
import torch

from bnnflow.models import build, resnet18, resnet34
from bnnflow.models.resnet import IMAGENET_MEAN, IMAGENET_STD, PixelNormalize

# The state_dict keys of torchvision.models.resnet18(), in order: read off torchvision's
# torchvision/models/resnet.py (ResNet.__init__ registers conv1, bn1, layer1..4, fc;
# BasicBlock conv1, bn1, conv2, bn2, downsample = Sequential(conv1x1, BatchNorm2d) where the
# stride or width changes) and checked against a resnet18 key list printed by
# state_dict().keys() in a public repository. Hard-coded on purpose: the test must not
# derive it from bnnflow's model.
TORCHVISION_RESNET18_KEYS = [
    "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
    "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
    "layer1.0.bn1.bias", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
    "layer1.0.bn1.num_batches_tracked", "layer1.0.conv2.weight", "layer1.0.bn2.weight",
    "layer1.0.bn2.bias", "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var",
    "layer1.0.bn2.num_batches_tracked", "layer1.1.conv1.weight", "layer1.1.bn1.weight",
    "layer1.1.bn1.bias", "layer1.1.bn1.running_mean", "layer1.1.bn1.running_var",
    "layer1.1.bn1.num_batches_tracked", "layer1.1.conv2.weight", "layer1.1.bn2.weight",
    "layer1.1.bn2.bias", "layer1.1.bn2.running_mean", "layer1.1.bn2.running_var",
    "layer1.1.bn2.num_batches_tracked", "layer2.0.conv1.weight", "layer2.0.bn1.weight",
    "layer2.0.bn1.bias", "layer2.0.bn1.running_mean", "layer2.0.bn1.running_var",
    "layer2.0.bn1.num_batches_tracked", "layer2.0.conv2.weight", "layer2.0.bn2.weight",
    "layer2.0.bn2.bias", "layer2.0.bn2.running_mean", "layer2.0.bn2.running_var",
    "layer2.0.bn2.num_batches_tracked", "layer2.0.downsample.0.weight",
    "layer2.0.downsample.1.weight", "layer2.0.downsample.1.bias",
    "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var",
    "layer2.0.downsample.1.num_batches_tracked", "layer2.1.conv1.weight", "layer2.1.bn1.weight",
    "layer2.1.bn1.bias", "layer2.1.bn1.running_mean", "layer2.1.bn1.running_var",
    "layer2.1.bn1.num_batches_tracked", "layer2.1.conv2.weight", "layer2.1.bn2.weight",
    "layer2.1.bn2.bias", "layer2.1.bn2.running_mean", "layer2.1.bn2.running_var",
    "layer2.1.bn2.num_batches_tracked", "layer3.0.conv1.weight", "layer3.0.bn1.weight",
    "layer3.0.bn1.bias", "layer3.0.bn1.running_mean", "layer3.0.bn1.running_var",
    "layer3.0.bn1.num_batches_tracked", "layer3.0.conv2.weight", "layer3.0.bn2.weight",
    "layer3.0.bn2.bias", "layer3.0.bn2.running_mean", "layer3.0.bn2.running_var",
    "layer3.0.bn2.num_batches_tracked", "layer3.0.downsample.0.weight",
    "layer3.0.downsample.1.weight", "layer3.0.downsample.1.bias",
    "layer3.0.downsample.1.running_mean", "layer3.0.downsample.1.running_var",
    "layer3.0.downsample.1.num_batches_tracked", "layer3.1.conv1.weight", "layer3.1.bn1.weight",
    "layer3.1.bn1.bias", "layer3.1.bn1.running_mean", "layer3.1.bn1.running_var",
    "layer3.1.bn1.num_batches_tracked", "layer3.1.conv2.weight", "layer3.1.bn2.weight",
    "layer3.1.bn2.bias", "layer3.1.bn2.running_mean", "layer3.1.bn2.running_var",
    "layer3.1.bn2.num_batches_tracked", "layer4.0.conv1.weight", "layer4.0.bn1.weight",
    "layer4.0.bn1.bias", "layer4.0.bn1.running_mean", "layer4.0.bn1.running_var",
    "layer4.0.bn1.num_batches_tracked", "layer4.0.conv2.weight", "layer4.0.bn2.weight",
    "layer4.0.bn2.bias", "layer4.0.bn2.running_mean", "layer4.0.bn2.running_var",
    "layer4.0.bn2.num_batches_tracked", "layer4.0.downsample.0.weight",
    "layer4.0.downsample.1.weight", "layer4.0.downsample.1.bias",
    "layer4.0.downsample.1.running_mean", "layer4.0.downsample.1.running_var",
    "layer4.0.downsample.1.num_batches_tracked", "layer4.1.conv1.weight", "layer4.1.bn1.weight",
    "layer4.1.bn1.bias", "layer4.1.bn1.running_mean", "layer4.1.bn1.running_var",
    "layer4.1.bn1.num_batches_tracked", "layer4.1.conv2.weight", "layer4.1.bn2.weight",
    "layer4.1.bn2.bias", "layer4.1.bn2.running_mean", "layer4.1.bn2.running_var",
    "layer4.1.bn2.num_batches_tracked", "fc.weight", "fc.bias",
]

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def torchvision_keys(layers: tuple[int, ...]) -> list[str]:
    """The key list torchvision's ResNet with BasicBlock ``layers`` produces (from its source:
    a shortcut where ``stride != 1 or inplanes != planes``)."""
    keys = ["conv1.weight", *(f"bn1.{b}" for b in BN)]
    inplanes = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True), start=1):
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}.{block}"
            keys += [f"{p}.conv1.weight", *(f"{p}.bn1.{b}" for b in BN),
                     f"{p}.conv2.weight", *(f"{p}.bn2.{b}" for b in BN)]
            if stride != 1 or inplanes != planes:
                keys += [f"{p}.downsample.0.weight", *(f"{p}.downsample.1.{b}" for b in BN)]
            inplanes = planes
    return [*keys, "fc.weight", "fc.bias"]


def test_resnet18_keys_are_torchvisions():
    assert torchvision_keys((2, 2, 2, 2)) == TORCHVISION_RESNET18_KEYS
    assert list(resnet18().state_dict()) == TORCHVISION_RESNET18_KEYS
    assert len(TORCHVISION_RESNET18_KEYS) == 122


def test_resnet34_keys_and_shapes():
    state = resnet34().state_dict()
    assert list(state) == torchvision_keys((3, 4, 6, 3))
    assert len(state) == 218
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["conv1.weight"] == (64, 3, 7, 7)
    assert shapes["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert shapes["layer3.5.conv2.weight"] == (256, 256, 3, 3)
    assert shapes["fc.weight"] == (1000, 512) and shapes["fc.bias"] == (1000,)
    # ResNet-34's parameter count as torchvision reports it: 21,797,672
    assert sum(p.numel() for p in resnet34().parameters()) == 21_797_672
    assert sum(p.numel() for p in resnet18().parameters()) == 11_689_512


def test_a_torchvision_state_dict_loads_strictly():
    """A checkpoint with torchvision's keys loads with strict=True, also one written before
    BatchNorm had num_batches_tracked (torchvision's original resnet18-5c106cde.pth)."""
    torch.manual_seed(0)
    source = {k: torch.randn_like(v.float()).to(v.dtype)
              for k, v in resnet18().state_dict().items()}
    model = build("resnet18")
    model.load_state_dict(source, strict=True)
    for key, value in source.items():
        assert torch.equal(model.state_dict()[key], value), key
    old = {k: v for k, v in source.items() if not k.endswith("num_batches_tracked")}
    assert len(old) == 102
    resnet18().load_state_dict(old, strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        resnet18().load_state_dict({**source, "normalize.mean": torch.zeros(3)})


def test_input_normalisation_is_torchvisions():
    """0..255 pixels in; conv1 sees (x/255 - mean)/std (ImageNet; grey: 0.449/0.226)."""
    model = resnet18(num_classes=5).eval()
    seen = []
    model.conv1.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = torch.randint(0, 256, (2, 3, 32, 32)).float()
    assert model(x).shape == (2, 5)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(seen[0], (x / 255 - mean) / std)
    grey = PixelNormalize([0.449], [0.226])
    torch.testing.assert_close(resnet18(in_channels=1).normalize(x[:, :1]), grey(x[:, :1]))
    assert resnet18(num_classes=10, in_channels=1)(x[:, :1, :8, :8]).shape == (2, 10)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"mean": [0.5]}, "both mean and std"),
    ({"mean": [0.5], "std": [0.5]}, "1 values for in_channels=3"),
    ({"mean": [0.5] * 3, "std": [0.5, 0.0, 1.0]}, "std values must be finite and > 0"),
    ({"mean": [float("nan")] * 3, "std": [0.5] * 3}, r"mean values must be finite numbers"),
    ({"mean": [0.5, True, 0.5], "std": [0.5] * 3}, r"mean values must be finite numbers"),
    ({"mean": 0.5, "std": 0.2}, r"mean must be a list of floats .*got 0\.5"),
    ({"mean": "abc", "std": "abc"}, r"mean must be a list of floats .*got 'abc'"),
    ({"num_classes": 0}, "num_classes"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resnet18(**kwargs)
