"""Exception types shared by the deploy path (never imports torch)."""

from __future__ import annotations


class FormatError(ValueError):
    """A ``.bnn`` file or an IR graph is malformed.

    Raised by :mod:`bnnflow.format` for every problem of a file (not a safetensors container,
    truncated, corrupted, hostile, unknown version, bad JSON) and by :mod:`bnnflow.graph` for
    every violation of an op schema. The message names the op (its source module name, its
    type and index) and the field at fault; both are also kept as attributes.

    Attributes:
        op: the op's name, or ``None`` for file-level problems.
        field: the offending field (``"attrs.stride"``, ``"params.weights"``, ...) or ``None``.
    """

    def __init__(self, message: str, *, op: str | None = None, field: str | None = None):
        super().__init__(message)
        self.op = op
        self.field = field
