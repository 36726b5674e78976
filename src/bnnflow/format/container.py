"""The safetensors container, read defensively.

A safetensors file is ``u64 little-endian header length N``, ``N`` bytes of JSON header
(``{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}``),
then the data region. :func:`read_container` checks the raw header itself first (length
sane, JSON well-formed, every entry's dtype/shape/offsets consistent and inside the file)
so that a hostile file cannot make the safetensors reader allocate or read beyond the file,
then decodes the tensors with ``safetensors.numpy``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import safetensors.numpy

from bnnflow.errors import FormatError

#: Largest JSON header accepted (the graph of a ResNet-18 is a few hundred kB).
MAX_HEADER_BYTES = 64 << 20
MAX_TENSORS = 1_000_000
MAX_RANK = 8

#: safetensors dtype codes of the dtypes a .bnn may hold.
DTYPE_CODES: dict[str, str] = {
    "I8": "int8",
    "U8": "uint8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
    "U32": "uint32",
    "F32": "float32",
}


def _fail(message: str, field: str | None = None) -> FormatError:
    return FormatError(message, field=field)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def parse_json(text: bytes | str, what: str) -> Any:
    """``json.loads`` that rejects NaN/Infinity and turns every failure into FormatError."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise _fail(f"{what} is not valid JSON: {e}", what) from None


def _check_entry(name: str, entry: Any, data_len: int) -> tuple[int, int]:
    where = f"tensor {name!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(f"{where}: header entry must have exactly dtype, shape, data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_CODES:
        raise _fail(f"{where}: dtype {dtype!r} is not one of {sorted(DTYPE_CODES)}")
    ok_shape = isinstance(shape, list) and len(shape) <= MAX_RANK and all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape)
    if not ok_shape:
        raise _fail(f"{where}: shape {str(shape)[:60]} is not a list of non-negative ints")
    ok_offsets = isinstance(offsets, list) and len(offsets) == 2 and all(
        isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    if not ok_offsets:
        raise _fail(f"{where}: data_offsets must be two ints")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise _fail(f"{where}: data_offsets [{begin}, {end}] outside the {data_len}-byte data "
                    "region (truncated file?)")
    nbytes = math.prod(shape) * np.dtype(DTYPE_CODES[dtype]).itemsize
    if end - begin != nbytes:
        raise _fail(f"{where}: {end - begin} bytes of data for shape {shape} {dtype} "
                    f"({nbytes} bytes)")
    return begin, end


#: What :func:`read_header` and the CLI tell the owner of a PyTorch checkpoint.
EXPORT_HINT = "export it first with `bnnflow export CHECKPOINT -o model.bnn`"


def sniff(head: bytes) -> str:
    """The kind of file whose first bytes are ``head`` (16 are enough).

    ``"safetensors"``: a plausible header length (2 .. MAX_HEADER_BYTES) followed by ``{``
    (a ``.bnn`` or any safetensors file); ``"zip"``: a zip archive (``PK\\3\\4``, what
    ``torch.save`` writes); ``"pickle"``: a pickle of protocol 2-5 (legacy ``torch.save``);
    else ``"unknown"``. The safetensors test comes first: a header length may begin with the
    bytes of a pickle opcode, never with a zip signature (it would exceed the limit).
    """
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= MAX_HEADER_BYTES:
            return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    return "unknown"


def read_header(data: bytes) -> tuple[dict[str, str], dict[str, Any], int]:
    """Check and parse the raw header of a safetensors blob.

    Returns ``(metadata, entries, data_start)``.

    Raises:
        FormatError: too short, absurd header length, header not JSON, malformed entries,
            offsets outside the file, overlapping or non-contiguous tensor data.
    """
    kind = sniff(data[:16])
    if kind in ("zip", "pickle"):
        raise _fail(f"not a .bnn file: this looks like a PyTorch checkpoint ({kind}); "
                    f"{EXPORT_HINT}")
    if len(data) < 8:
        raise _fail(f"not a safetensors file: {len(data)} bytes, shorter than the 8-byte "
                    "header length (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > MAX_HEADER_BYTES:
        raise _fail(f"not a safetensors file: header length {n} is absurd "
                    f"(accepted: 2 to {MAX_HEADER_BYTES} bytes)")
    if 8 + n > len(data):
        raise _fail(f"truncated file: header length {n} but only {len(data) - 8} bytes follow")
    header = parse_json(data[8:8 + n], "safetensors header")
    if not isinstance(header, dict):
        raise _fail("safetensors header: expected a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _fail("safetensors header: __metadata__ must map strings to strings")
    if len(header) > MAX_TENSORS:
        raise _fail(f"safetensors header: {len(header)} tensors (at most {MAX_TENSORS})")
    data_len = len(data) - 8 - n
    spans = sorted(_check_entry(name, e, data_len) for name, e in header.items())
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise _fail("safetensors data: tensors overlap or leave gaps "
                        f"(a tensor starts at byte {begin}, expected {pos})")
        pos = end
    if pos != data_len:
        raise _fail(f"safetensors data: {data_len - pos} trailing bytes after the last tensor")
    return meta, header, 8 + n


def read_container(data: bytes) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Parse a safetensors blob: ``(metadata, tensors)``; tensors are aligned, owned copies.

    Raises:
        FormatError: anything wrong with the container (see :func:`read_header`).
    """
    meta, _, _ = read_header(data)
    try:
        raw = safetensors.numpy.load(data)
    except Exception as e:  # the Rust reader's errors carry no common base class
        raise _fail(f"safetensors could not read the container: {e}") from None
    except BaseException as e:  # a Rust panic surfaces as pyo3's PanicException
        if type(e).__name__ != "PanicException":
            raise
        raise _fail(f"safetensors could not read the container: {e}") from None
    return meta, {k: np.array(v, copy=True) for k, v in raw.items()}


def write_container(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """Serialize ``tensors`` (C-contiguous copies) with string ``metadata``."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    return safetensors.numpy.save(arrays, metadata=dict(metadata))
