"""The one error type of the TFLite / LCE importer."""

from __future__ import annotations


class TFLiteImportError(ValueError):
    """A ``.tflite`` file (or one op of it) that :func:`bnnflow.convert.from_tflite` cannot map.

    The message names the op (its index in the subgraph, ``-1`` for the file as a whole), its
    code (``CONV_2D``, ``LceBconv2d``, ...) and the reason.
    """

    def __init__(self, index: int, op: str, reason: str):
        where = f"op #{index} ({op})" if index >= 0 else op
        super().__init__(f"cannot import {where}: {reason}")
        self.index = index
        self.op = op
        self.reason = reason
