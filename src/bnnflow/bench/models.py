"""The models ``bnnflow bench`` times: build, calibrate, export to ``.bnn``, float twins.

Every benchmark model is a bnnflow ImageNet model at 224x224 with random (seeded) weights —
timing does not depend on the weights. The ``int8`` data-flow needs frozen int8 scales, so
the model goes through stage 2 of the recipe on a few random uint8 images first
(``enable_int8 → calibrate → freeze_int8``); the ``float`` data-flow converts the model as
built. Exported files are cached by (model, data-flow, seed) in a work directory.

The *float twin* of a model is the same topology with every binary convolution replaced by a
real ``nn.Conv2d`` of the same shape (kernel, stride, padding, groups, channels) and every
int8 fake-quant point removed: what the same network costs as an ordinary fp32 PyTorch model.

torch is imported inside the functions that need it, never at module import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The models ``bnnflow bench`` accepts by name.
BENCH_MODELS: tuple[str, ...] = ("birealnet18", "quicknet", "ftbnn18")
#: data-flow -> engine name in the result records.
DATAFLOW_ENGINES: dict[str, str] = {"int8": "bnnflow-int8", "float": "bnnflow-float"}
IMAGE_SIZE = 224
CALIBRATION_IMAGES = 4


@dataclass(frozen=True)
class Accuracy:
    """A published ImageNet top-1 figure (``None``: none published for this configuration)."""

    top1: float | None
    source: str


#: Published ImageNet top-1 beside each model (bnnflow's and the peers'); not measured here.
PUBLISHED_TOP1: dict[str, Accuracy] = {
    "birealnet18": Accuracy(
        56.4, "Bi-Real Net paper (Liu et al., ECCV 2018); larq-zoo BiRealNet: 57.5"
    ),
    "birealnet": Accuracy(57.5, "larq-zoo BiRealNet"),
    "quicknet": Accuracy(63.3, "larq-zoo QuickNet"),
    "ftbnn18": Accuracy(
        None,
        "not published for this config (FTBNN paper: ResNet-18 baselines with other "
        "choices; no figure for two-sided PReLU after add, groups=1, real downsample)",
    ),
    "resnet18": Accuracy(69.8, "torchvision ResNet-18 fp32 (69.76)"),
    "resnet18-int8": Accuracy(69.5, "ResNet-18 static int8, per-channel (approx., ORT/PyTorch)"),
}

#: For each bnnflow model, the peer records it is compared with: engine -> peer model name.
PEER_COUNTERPARTS: dict[str, dict[str, str]] = {
    "birealnet18": {
        "lce": "birealnet",
        "torch": "birealnet18-float",
        "onnxruntime": "resnet18",
        "onnxruntime-int8": "resnet18",
    },
    "quicknet": {
        "lce": "quicknet",
        "torch": "quicknet-float",
        "onnxruntime": "resnet18",
        "onnxruntime-int8": "resnet18",
    },
    "ftbnn18": {"torch": "resnet18", "onnxruntime": "resnet18", "onnxruntime-int8": "resnet18"},
}


def check_model_name(name: str) -> str:
    """``name`` if it is one of :data:`BENCH_MODELS`; ``ValueError`` naming the choices."""
    if name not in BENCH_MODELS:
        raise ValueError(
            f"model {name!r} is not a benchmark model; choose from {list(BENCH_MODELS)}"
        )
    return name


def random_images(count: int, size: int = IMAGE_SIZE, channels: int = 3, seed: int = 0) -> Any:
    """``count`` random uint8 images, numpy NHWC ``[count, size, size, channels]``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size, size, channels), dtype=np.uint8)


def build_model(name: str, seed: int = 0, **kwargs: Any) -> Any:
    """The bnnflow model ``name`` (any :func:`bnnflow.models.available` name) in eval mode,
    with weights drawn from ``torch.manual_seed(seed)`` and non-trivial BN statistics."""
    import torch

    from bnnflow.models import build

    torch.manual_seed(seed)
    model = build(name, **kwargs)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.running_var is not None:
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def calibrate_int8(model: Any, images: Any) -> Any:
    """Stage 2 on ``images`` (uint8 NHWC numpy): ``enable_int8 → calibrate → freeze_int8``."""
    import torch

    from bnnflow.nn import calibrate, enable_int8, freeze_int8

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    enable_int8(model)
    calibrate(model, [x])
    return freeze_int8(model)


def export_bench_model(
    name: str,
    dataflow: str,
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    size: int = IMAGE_SIZE,
    calibration_images: int = CALIBRATION_IMAGES,
    **kwargs: Any,
) -> Path:
    """Build ``name`` (random weights), calibrate it for ``int8``, convert and write ``path``.

    ``kwargs`` go to the model builder (e.g. ``num_classes``, ``in_channels``). Raises
    ``ValueError`` for an unknown data-flow; conversion errors propagate."""
    import torch

    from bnnflow.convert import export

    if dataflow not in DATAFLOW_ENGINES:
        raise ValueError(f"dataflow must be one of {list(DATAFLOW_ENGINES)}, got {dataflow!r}")
    model = build_model(name, seed, **kwargs)
    channels = int(model.normalize.scale.numel())
    images = random_images(calibration_images, size, channels, seed)
    if dataflow == "int8":
        calibrate_int8(model, images)
    example = torch.from_numpy(images[:1]).permute(0, 3, 1, 2).float()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # conversion is not what is timed; keep it off the other core
    try:
        export(model, out, example, dataflow=dataflow, metadata={"bench_model": name})
    finally:
        torch.set_num_threads(threads)
    return out


def bench_model_path(
    workdir: str | os.PathLike[str], name: str, dataflow: str, seed: int = 0
) -> Path:
    """Where the cached export of (``name``, ``dataflow``, ``seed``) lives in ``workdir``."""
    return Path(workdir) / f"{name}-{dataflow}-s{seed}.bnn"


def prepare_bench_models(
    names: list[str], dataflows: list[str], workdir: str | os.PathLike[str], seed: int = 0,
    *, log: Any = None,
) -> dict[tuple[str, str], Path]:
    """Export every (model, data-flow) into ``workdir`` unless already there; their paths."""
    paths = {}
    for name in names:
        for dataflow in dataflows:
            path = bench_model_path(workdir, name, dataflow, seed)
            if not path.exists():
                if log is not None:
                    log(f"converting {name} ({dataflow} data-flow) -> {path}")
                tmp = path.with_suffix(".tmp.bnn")
                export_bench_model(name, dataflow, tmp, seed=seed)
                tmp.replace(path)
            paths[(name, dataflow)] = path
    return paths


def float_twin(name: str, seed: int = 0, **kwargs: Any) -> Any:
    """The fp32 twin of bnnflow model ``name``: every ``BinaryConv2d`` becomes an
    ``nn.Conv2d`` of the same shape (kernel, stride, padding, groups; zero padding),
    ``BinaryLinear`` an ``nn.Linear``, ``Int8Point`` an ``nn.Identity``;
    ``QConv2d``/``QLinear`` keep their float weights (fake-quant disabled). Eval mode."""
    import torch
    from torch import nn

    from bnnflow.nn import BinaryConv2d, BinaryLinear, Int8Point

    model = build_model(name, seed, **kwargs)

    def replace(parent: nn.Module) -> None:
        for child_name, child in parent.named_children():
            if isinstance(child, BinaryConv2d):
                setattr(parent, child_name, _real_conv(child))
            elif isinstance(child, BinaryLinear):
                lin = nn.Linear(child.in_features, child.out_features,
                                bias=getattr(child, "bias", None) is not None)
                setattr(parent, child_name, lin)
            elif isinstance(child, Int8Point):
                setattr(parent, child_name, nn.Identity())
            else:
                replace(child)

    with torch.no_grad():
        replace(model)
    return model.eval()


def _real_conv(b: Any) -> Any:
    """``nn.Conv2d`` with the shape of the binary conv ``b``, its latent weights copied."""
    from torch import nn

    conv = nn.Conv2d(b.in_channels, b.out_channels, b.kernel_size, b.stride, b.padding,
                     groups=b.groups, bias=False)
    conv.weight.copy_(b.weight.detach())
    return conv
