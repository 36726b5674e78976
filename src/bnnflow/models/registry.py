"""Model registry: ``build(name, **kwargs)`` and ``available()``.

``<name>_cifar`` (for every ImageNet-shaped ResNet model) is ``<name>(cifar=True)`` with
``num_classes=10`` by default: the 3x3/1 stem without max pool for 32x32 images, what
``bnnflow train --data cifar10:DIR --model <name>_cifar`` trains.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from .birealnet import birealnet18, birealnet34, birealnet_small, birealnet_small_float
from .ftbnn import ftbnn18, ftbnn34, ftbnn_small, ftbnn_small_float
from .quicknet import quicknet
from .reactnet import reactnet18, reactnet_small
from .resnet import resnet18, resnet34


def cifar_variant(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """``builder`` with ``cifar=True`` fixed and ``num_classes=10`` by default; its signature
    (what :func:`build` accepts) is the builder's without ``cifar``."""
    sig = inspect.signature(builder)
    params = [p.replace(default=10) if p.name == "num_classes" else p
              for p in sig.parameters.values() if p.name != "cifar"]

    def build_cifar(**kwargs: Any) -> nn.Module:
        kwargs.setdefault("num_classes", 10)
        return builder(cifar=True, **kwargs)

    build_cifar.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    build_cifar.__name__ = f"{builder.__name__}_cifar"
    build_cifar.__doc__ = f"``{builder.__name__}(cifar=True)`` for 32x32 input (10 classes)."
    return build_cifar


_IMAGENET_RESNETS: dict[str, Callable[..., nn.Module]] = {
    "birealnet18": birealnet18,
    "birealnet34": birealnet34,
    "ftbnn18": ftbnn18,
    "ftbnn34": ftbnn34,
    "reactnet18": reactnet18,
}

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    **_IMAGENET_RESNETS,
    **{f"{k}_cifar": cifar_variant(v) for k, v in _IMAGENET_RESNETS.items()},
    "birealnet_small": birealnet_small,
    "birealnet_small_float": birealnet_small_float,
    "ftbnn_small": ftbnn_small,
    "ftbnn_small_float": ftbnn_small_float,
    "quicknet": quicknet,
    "reactnet_small": reactnet_small,
    "resnet18": resnet18,
    "resnet34": resnet34,
}


def available() -> list[str]:
    """Sorted names accepted by :func:`build`."""
    return sorted(_BUILDERS)


def build(name: str, **kwargs: Any) -> nn.Module:
    """Build the model ``name`` with the builder's keyword arguments.

    Raises ``ValueError`` for an unknown name (listing the available ones), an unknown
    argument (listing the accepted ones) or a bad argument value.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {available()}")
    builder = _BUILDERS[name]
    accepted = list(inspect.signature(builder).parameters)
    for key in kwargs:
        if key not in accepted:
            raise ValueError(f"model {name!r} has no argument {key!r}; accepted: {accepted}")
    return builder(**kwargs)
