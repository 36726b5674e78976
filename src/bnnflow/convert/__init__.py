"""bnnflow.convert: PyTorch model → IR graph → ``.bnn`` (docs/conversion.md).

``convert(model, example_input, dataflow)`` captures the eval-mode model with ``torch.fx``,
lowers it to the op catalogue of docs/numerics.md with one small pass per file
(:mod:`bnnflow.convert.passes`) and returns ``(graph, tensors)``; ``export`` also writes the
file. Needs torch (capture only); the result runs without it.
"""

from __future__ import annotations

from bnnflow.convert.errors import ConversionError
from bnnflow.convert.pipeline import DATAFLOWS, convert, export, lower

__all__ = ["DATAFLOWS", "ConversionError", "convert", "export", "lower"]
