"""Read and write ``.bnn`` files: a safetensors container whose ``__metadata__`` holds

- ``bnnflow.format_version``: the format version, a decimal integer string;
- ``bnnflow.graph``: one JSON document ``{"format_version", "producer", "graph"}`` where
  ``graph`` is :meth:`bnnflow.graph.Graph.to_json`.

The tensors of the container are the ops' params. No pickle anywhere. :func:`load` validates
every field (container, JSON, op schemas, tensor references, dtypes, shapes, value ranges)
before returning, and raises :class:`~bnnflow.errors.FormatError` for any problem.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bnnflow import __version__
from bnnflow.errors import FormatError
from bnnflow.format.container import parse_json, read_container, sniff, write_container
from bnnflow.graph import PARAM_DTYPES, Graph, TensorInfo, graph_from_json, validate
from bnnflow.graph.padding import is_list_padding

#: The newest format version this release writes (docs/format.md, Versions): 2 adds the list
#: form ``[top, left, bottom, right]`` of ``padding``; a graph without it is written as 1.
FORMAT_VERSION = 2
SUPPORTED_VERSIONS: tuple[int, ...] = (1, 2)
VERSION_KEY = "bnnflow.format_version"
GRAPH_KEY = "bnnflow.graph"
PRODUCER = f"bnnflow {__version__}"
#: Largest file :func:`load` reads (the container is read whole).
MAX_FILE_BYTES = 4 << 30


@dataclass
class BnnFile:
    """A validated ``.bnn``: graph, params, inferred activation infos and provenance."""

    graph: Graph
    tensors: dict[str, np.ndarray]
    infos: dict[str, TensorInfo]
    format_version: int
    producer: str


def _check_tensors(tensors: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise FormatError(f"tensors: invalid tensor name {name!r}", field="tensors")
        if not isinstance(arr, np.ndarray) or arr.dtype.name not in PARAM_DTYPES:
            what = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise FormatError(f"tensors: {name!r} is {what}, expected a numpy array of "
                              f"{', '.join(PARAM_DTYPES)}", field="tensors")
        out[name] = arr
    return out


def format_version_for(graph: Graph) -> int:
    """The lowest format version that holds ``graph``: 2 when an op's ``padding`` is a list,
    else 1 (so such a file reads in releases before version 2)."""
    uses_list = any(is_list_padding(op.attrs.get("padding")) for op in graph.ops)
    return 2 if uses_list else 1


def dumps(graph: Graph, tensors: Mapping[str, np.ndarray],
          extras: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of a ``.bnn`` file; see :func:`save`."""
    arrays = _check_tensors(tensors)
    doc_graph = graph.to_json()
    doc_graph["metadata"] = {**doc_graph["metadata"], **dict(extras or {})}
    version = format_version_for(graph)
    try:
        text = json.dumps({"format_version": version, "producer": PRODUCER,
                           "graph": doc_graph}, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise FormatError(f"graph: not JSON-serialisable: {e}", field="graph") from None
    # Validate exactly what load() will see.
    validate(graph_from_json(json.loads(text)["graph"]), arrays)
    return write_container(arrays, {VERSION_KEY: str(version), GRAPH_KEY: text})


def save(path: str | os.PathLike[str], graph: Graph, tensors: Mapping[str, np.ndarray],
         extras: Mapping[str, Any] | None = None) -> None:
    """Validate ``graph`` against ``tensors`` and write the ``.bnn`` file at ``path``.

    ``extras`` (JSON-able) are merged into the graph's ``metadata``.

    The file is written to a temporary file in the same directory and renamed over
    ``path``: a failed write leaves ``path`` as it was and no partial file.

    Raises:
        FormatError: the graph or tensors are invalid (nothing is written).
        OSError: the directory does not exist or cannot be written (nothing is written).
    """
    data = dumps(graph, tensors, extras)
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".bnnflow-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask (read from /proc where possible: ``os.umask`` sets it, racily)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_kind(path: str | os.PathLike[str]) -> str:
    """What is at ``path``, from its first bytes: ``"missing"``, ``"directory"``,
    ``"safetensors"`` (a ``.bnn`` or another safetensors file), ``"torch"`` (a PyTorch
    checkpoint: zip archive or pickle) or ``"unknown"`` (also an unreadable file)."""
    if os.path.isdir(path):
        return "directory"
    if not os.path.exists(path):
        return "missing"
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return "unknown"
    kind = sniff(head)
    return "torch" if kind in ("zip", "pickle") else kind


def _version(meta: Mapping[str, str]) -> int:
    if VERSION_KEY not in meta or GRAPH_KEY not in meta:
        raise FormatError(f"not a bnnflow file: the safetensors metadata lacks {VERSION_KEY!r} "
                          f"or {GRAPH_KEY!r}", field=VERSION_KEY)
    text = meta[VERSION_KEY]
    if not (text.isascii() and text.isdigit() and len(text) < 10):
        raise FormatError(f"{VERSION_KEY}: {text[:20]!r} is not an integer", field=VERSION_KEY)
    version = int(text)
    if version not in SUPPORTED_VERSIONS:
        raise FormatError(f"format version {version} is not supported (this bnnflow "
                          f"{__version__} reads versions "
                          f"{', '.join(map(str, SUPPORTED_VERSIONS))})", field=VERSION_KEY)
    return version


def loads(data: bytes) -> BnnFile:
    """Parse and fully validate the bytes of a ``.bnn`` file.

    Raises:
        FormatError: anything wrong, naming the op and field where there is one.
    """
    meta, tensors = read_container(data)
    version = _version(meta)
    doc = parse_json(meta[GRAPH_KEY], GRAPH_KEY)
    if not isinstance(doc, dict) or set(doc) != {"format_version", "producer", "graph"}:
        raise FormatError(f"{GRAPH_KEY}: expected an object with exactly format_version, "
                          "producer, graph", field=GRAPH_KEY)
    if doc["format_version"] != version or isinstance(doc["format_version"], bool):
        raise FormatError(f"{GRAPH_KEY}.format_version {doc['format_version']!r} differs from "
                          f"{VERSION_KEY} {version}", field="format_version")
    if not isinstance(doc["producer"], str):
        raise FormatError(f"{GRAPH_KEY}.producer: expected a string", field="producer")
    graph = graph_from_json(doc["graph"])
    infos = validate(graph, tensors)
    return BnnFile(graph, tensors, infos, version, doc["producer"])


def read(path: str | os.PathLike[str]) -> BnnFile:
    """Read and fully validate the ``.bnn`` file at ``path``.

    Raises:
        FormatError: anything wrong with the file (also a file too large to be a model).
        OSError: the file cannot be opened.
    """
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise FormatError(f"{os.fspath(path)!r}: {size} bytes exceeds the {MAX_FILE_BYTES}-byte "
                          "limit of a .bnn file")
    with open(path, "rb") as f:
        data = f.read()
    return loads(data)


def load(path: str | os.PathLike[str]) -> tuple[Graph, dict[str, np.ndarray]]:
    """``(graph, tensors)`` of the validated ``.bnn`` file at ``path`` (see :func:`read`)."""
    model = read(path)
    return model.graph, model.tensors
