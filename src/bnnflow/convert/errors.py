"""The one error type of the converter."""

from __future__ import annotations


class ConversionError(ValueError):
    """A model (or part of it) that :mod:`bnnflow.convert` cannot lower.

    The message names the module (its qualified name in the model), the op and the reason.

    Attributes:
        module: qualified module name (``"blocks.0.conv"``), or ``""`` for the whole model.
        op: what was being lowered (``"BinaryConv2d"``, ``"Int8Point"``, ``"add"``, ...).
        reason: why it cannot be lowered.
    """

    def __init__(self, module: str, op: str, reason: str):
        where = module or "<model>"
        super().__init__(f"cannot convert {where} ({op}): {reason}")
        self.module = module
        self.op = op
        self.reason = reason
