"""bnnflow.format: read, write and validate ``.bnn`` files (safetensors + JSON graph).

See docs/format.md. Never imports torch; needs numpy and safetensors only.
"""

from __future__ import annotations

from bnnflow.errors import FormatError
from bnnflow.format.bnnfile import (
    FORMAT_VERSION,
    PRODUCER,
    SUPPORTED_VERSIONS,
    BnnFile,
    dumps,
    file_kind,
    format_version_for,
    load,
    loads,
    read,
    save,
)

__all__ = [
    "FORMAT_VERSION",
    "PRODUCER",
    "SUPPORTED_VERSIONS",
    "BnnFile",
    "FormatError",
    "dumps",
    "file_kind",
    "format_version_for",
    "load",
    "loads",
    "read",
    "save",
]
