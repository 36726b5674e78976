"""Build a model from its name and keyword arguments (the part of a checkpoint that says what
network it holds), and reach the int8 (BNN-Clip) hooks of ``bnnflow.nn``.

A model name is either one of ``bnnflow.models.available()`` or ``package.module:callable``
for a network of your own (the callable takes the same keyword arguments and returns an
``nn.Module``). Checkpoints store the name and the kwargs, never the pickled module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

import torch


class ModelError(ValueError):
    """An unknown model name or arguments its builder rejects."""


def available_models() -> list[str]:
    """Names known to ``bnnflow.models`` (empty when that package is not installed)."""
    try:
        models = importlib.import_module("bnnflow.models")
    except ImportError:
        return []
    return sorted(models.available())


def _custom_builder(name: str) -> Callable[..., torch.nn.Module]:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelError(f"model {name!r}: cannot import module {module_name!r}: {err}") from err
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise ModelError(f"model {name!r}: {module_name!r} has no callable {attr!r}")
    return builder


def build_model(name: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    """Build ``name`` with ``kwargs``; raises :class:`ModelError` listing the known names."""
    if ":" in name:
        builder = _custom_builder(name)
    else:
        known = available_models()
        if name not in known:
            listing = ", ".join(known) if known else "(bnnflow.models is not available)"
            raise ModelError(f"unknown model {name!r}; available: {listing}")
        builder = importlib.import_module("bnnflow.models").build
        kwargs = {"name": name, **kwargs}
    try:
        model = builder(**kwargs)
    except (TypeError, ValueError) as err:  # bnnflow.models raises ValueError for bad kwargs
        shown = {k: v for k, v in kwargs.items() if k != "name"}
        raise ModelError(f"model {name!r} rejects arguments {shown}: {err}") from err
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"model {name!r}: builder returned {type(model).__name__}, not a Module")
    return model


def _int8_module() -> Any:
    try:
        return importlib.import_module("bnnflow.nn.int8")
    except ImportError as err:
        raise ModelError(f"stage 2 needs bnnflow.nn.int8, which cannot be imported: {err}") from err


def enable_int8(model: torch.nn.Module) -> None:
    """Insert the BNN-Clip clipping blocks and switch fake-quant points to observing."""
    _int8_module().enable_int8(model)


def calibrate(model: torch.nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Observe the int8 scales on ``batches`` (eval mode, no gradients)."""
    _int8_module().calibrate(model, batches)


def has_int8_points(model: torch.nn.Module) -> bool:
    """Whether ``model`` has an int8 point that observes after ``enable_int8``."""
    return _int8_module().has_observing_points(model)


def freeze_int8(model: torch.nn.Module) -> None:
    """Freeze the observed scales: the fake-quant forward uses them unchanged from now on."""
    _int8_module().freeze_int8(model)


def is_binary_latent(module: torch.nn.Module, param_name: str) -> bool:
    """Whether ``module.<param_name>`` is a latent weight that is binarised in the forward.

    Recognised by ``bnnflow.nn``'s binary layer classes (``BinaryConv2d``, ``BinaryLinear``)
    or, for custom layers, by a true ``binary_weight`` attribute on the module. A layer in
    real-weight mode (a true ``real_weights`` attribute) uses its weight as it is: not latent.
    """
    if param_name != "weight":
        return False
    if getattr(module, "real_weights", False):  # step 1 of the two-step schedule
        return False
    if getattr(module, "binary_weight", False):
        return True
    try:
        nn_mod = importlib.import_module("bnnflow.nn")
    except ImportError:
        return False
    classes = tuple(
        getattr(nn_mod, n) for n in ("BinaryConv2d", "BinaryLinear") if hasattr(nn_mod, n)
    )
    return bool(classes) and isinstance(module, classes)


def clip_latent_weights(model: torch.nn.Module) -> None:
    """Clamp binary latent weights to ``±weight_clip_value`` (Larq's ``WeightClip``).

    Called after every optimizer step: outside ±1 the straight-through gradient of the weight
    sign is 0, so an unclamped latent weight could drift out and never come back.
    No-op when ``bnnflow.nn`` is not installed (custom models clip themselves).
    """
    try:
        nn_mod = importlib.import_module("bnnflow.nn")
    except ImportError:
        return
    clip = getattr(nn_mod, "clip_latent_weights_", None)
    if clip is not None:
        with torch.no_grad():
            clip(model)


def set_real_weights(model: torch.nn.Module, name: str) -> int:
    """Switch every layer with a real-weight mode to it (step 1 of the two-step schedule).

    Such a layer is one of ``bnnflow.nn``'s ``BinaryConv2d``/``BinaryLinear`` (see
    ``bnnflow.nn.set_real_weights``) or any module with a ``real_weights`` attribute (custom
    layers opt in this way). Returns how many were switched; :class:`ModelError` if none.
    """
    layers = [m for m in model.modules() if hasattr(m, "real_weights")]
    if not layers:
        raise ModelError(
            f"model {name!r} has no layer with a real-weight mode (bnnflow.nn's BinaryConv2d/"
            "BinaryLinear, or a module with a real_weights attribute); --real-weights and "
            "--two-step need binary layers"
        )
    for m in layers:
        m.real_weights = True
    return len(layers)
