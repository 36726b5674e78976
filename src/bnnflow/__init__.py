"""bnnflow: binary neural networks, trained in PyTorch, run integer-only on CPUs.

The deploy path (``bnnflow.format``, ``bnnflow.reference``, ``bnnflow.runtime``) never imports
torch; training (``bnnflow.nn``, ``bnnflow.models``, ``bnnflow.train``) and conversion
(``bnnflow.convert``) need the ``train`` extra.
"""

from __future__ import annotations

__version__ = "0.1.0"

from bnnflow.errors import FormatError  # torch-free, numpy-free

__all__ = ["FormatError", "__version__"]
