"""Import Larq Compute Engine ``.tflite`` models (docs/import.md).

``from_tflite(path) -> (graph, tensors)``; needs the ``tflite`` package
(``pip install 'bnnflow[import]'``), not TensorFlow and not torch.
"""

from __future__ import annotations

from bnnflow.convert.lce.errors import TFLiteImportError
from bnnflow.convert.lce.importer import from_tflite

__all__ = ["TFLiteImportError", "from_tflite"]
