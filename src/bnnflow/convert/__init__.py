"""bnnflow.convert: PyTorch model → IR graph → ``.bnn`` (docs/conversion.md).

``convert(model, example_input, dataflow)`` captures the eval-mode model with ``torch.fx``,
lowers it to the op catalogue of docs/numerics.md with one small pass per file
(:mod:`bnnflow.convert.passes`) and returns ``(graph, tensors)``; ``export`` also writes the
file. Needs torch (capture only); the result runs without it. ``from_tflite(path)`` imports a
Larq Compute Engine ``.tflite`` model instead (:mod:`bnnflow.convert.lce`, docs/import.md;
no torch needed).

The names are loaded on first use, so ``bnnflow.convert.lce`` imports without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from bnnflow.convert.errors import ConversionError

__all__ = ["DATAFLOWS", "ConversionError", "TFLiteImportError", "convert", "export",
           "from_tflite", "lower"]

_LAZY = {"DATAFLOWS": "pipeline", "convert": "pipeline", "export": "pipeline",
         "lower": "pipeline", "from_tflite": "lce", "TFLiteImportError": "lce"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"bnnflow.convert.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bnnflow.convert' has no attribute {name!r}")
