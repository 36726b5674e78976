"""Model registry: ``build(name, **kwargs)`` and ``available()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from .birealnet import birealnet18, birealnet_small, birealnet_small_float
from .ftbnn import ftbnn18, ftbnn_small, ftbnn_small_float
from .quicknet import quicknet
from .resnet import resnet18, resnet34

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "birealnet18": birealnet18,
    "birealnet_small": birealnet_small,
    "birealnet_small_float": birealnet_small_float,
    "ftbnn18": ftbnn18,
    "ftbnn_small": ftbnn_small,
    "ftbnn_small_float": ftbnn_small_float,
    "quicknet": quicknet,
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
