"""Run the peer-engine benchmark drivers (``benchmarks/*_driver.py``) and collect their results.

Each peer runs in its own interpreter: Larq Compute Engine in ``.peers/lce`` and ONNX Runtime
in ``.peers/ort`` (both made by ``scripts/peers-env.sh``, never part of the default install),
PyTorch in the current interpreter. A driver writes a JSON list of records; one record is
one (engine, model, threads, batch) configuration::

    {"model": str, "engine": str, "threads": int, "batch": int,
     "median_ms": float, "min_ms": float, "max_ms": float, "runs": int, ...extras}

with ``0 < min_ms <= median_ms <= max_ms`` (milliseconds per call of ``batch`` images).
The drivers live in the source checkout, not in the installed package: the checkout is found
from ``BNNFLOW_ROOT``, else upwards from the working directory, else from this file.

Torch is never imported here.
"""

from __future__ import annotations

import collections
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PEERS_ENV_SCRIPT = "scripts/peers-env.sh"
LAYER_TABLE = "benchmarks/data/larq_zoo_layers.json"
REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "engine": (str,),
    "threads": (int,),
    "batch": (int,),
    "median_ms": (int, float),
    "min_ms": (int, float),
    "max_ms": (int, float),
    "runs": (int,),
}


class PeerError(RuntimeError):
    """Base class of the errors raised while running a peer benchmark."""


class PeerEnvMissingError(PeerError):
    """The peer's virtual environment (or the source checkout with the drivers) is missing."""


class PeerRunError(PeerError):
    """A peer driver exited with an error; the message ends with its last stderr lines."""


class PeerResultError(PeerError, ValueError):
    """A driver's JSON output is not a valid result list."""


@dataclass(frozen=True)
class Peer:
    """One selectable peer: its driver, the venv under ``.peers/`` (``None``: this
    interpreter), the engine name its records carry, and the driver arguments that select it."""

    name: str
    driver: str
    env: str | None
    engine: str
    driver_args: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    save_arg: str | None = None  # the driver option that keeps its model files in a folder


PEERS: dict[str, Peer] = {
    "lce": Peer(
        "lce", "lce_driver.py", "lce", "lce", (), ("birealnet", "quicknet"), "--save-dir"
    ),
    "torch": Peer(
        "torch",
        "torch_driver.py",
        None,
        "torch",
        (),
        ("resnet18", "birealnet18-float", "quicknet-float", "ftbnn18-float"),
        "--save-dir",
    ),
    "onnxruntime": Peer(
        "onnxruntime",
        "ort_driver.py",
        "ort",
        "onnxruntime",
        ("onnxruntime",),
        ("resnet18",),
        "--work-dir",
    ),
    "onnxruntime-int8": Peer(
        "onnxruntime-int8",
        "ort_driver.py",
        "ort",
        "onnxruntime-int8",
        ("onnxruntime-int8",),
        ("resnet18",),
        "--work-dir",
    ),
}


def _is_checkout(path: Path) -> bool:
    return (path / "benchmarks" / "benchutil.py").is_file()


def find_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The bnnflow source checkout holding ``benchmarks/`` (see the module docstring).

    Raises :class:`PeerEnvMissingError` when none is found."""
    if root is not None:
        path = Path(root).resolve()
        if not _is_checkout(path):
            raise PeerEnvMissingError(f"root={str(path)!r} has no benchmarks/benchutil.py")
        return path
    env = os.environ.get("BNNFLOW_ROOT")
    if env:
        if not _is_checkout(Path(env)):
            raise PeerEnvMissingError(f"BNNFLOW_ROOT={env!r} has no benchmarks/benchutil.py")
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for cand in (start, *start.parents):
            if _is_checkout(cand):
                return cand
    raise PeerEnvMissingError(
        "the peer drivers live in the bnnflow source checkout (benchmarks/); run from the "
        "checkout or set BNNFLOW_ROOT to it"
    )


def get_peer(name: str) -> Peer:
    """The :class:`Peer` called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return PEERS[name]
    except KeyError:
        raise ValueError(f"unknown peer {name!r}; choose from {sorted(PEERS)}") from None


def peer_python(peer: Peer | str, root: str | os.PathLike[str] | None = None) -> Path:
    """The interpreter that runs ``peer``'s driver; :class:`PeerEnvMissingError` when its venv is
    absent (the message says which ``scripts/peers-env.sh`` call creates it)."""
    p = get_peer(peer) if isinstance(peer, str) else peer
    if p.env is None:
        return Path(sys.executable)
    base = find_root(root)
    python = base / ".peers" / p.env / "bin" / "python"
    if not python.exists():
        raise PeerEnvMissingError(
            f"peer {p.name!r} needs the virtual environment {python.parent.parent}, which is "
            f"missing: run `{PEERS_ENV_SCRIPT} {p.env}` in {base} first (it downloads the "
            f"pinned peer packages; see benchmarks/README.md)"
        )
    return python


def parse_results(text: str, source: str = "driver") -> list[dict[str, Any]]:
    """Parse and validate a driver's JSON result list (see the module docstring).

    Raises :class:`PeerResultError` naming ``source``, the record index and the field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise PeerResultError(f"{source}: output is not JSON ({err})") from None
    if not isinstance(data, list):
        raise PeerResultError(
            f"{source}: expected a JSON list of records, got {type(data).__name__}"
        )
    for i, rec in enumerate(data):
        _check_record(rec, f"{source}: record {i}")
    return data


def _check_record(rec: Any, where: str) -> None:
    if not isinstance(rec, dict):
        raise PeerResultError(f"{where}: expected an object, got {type(rec).__name__}")
    for key, types in REQUIRED_FIELDS.items():
        if key not in rec:
            raise PeerResultError(f"{where}: missing field {key!r}")
        value = rec[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise PeerResultError(f"{where}: field {key!r} has type {type(value).__name__}")
    for key in ("threads", "batch", "runs"):
        if rec[key] < 1:
            raise PeerResultError(f"{where}: field {key!r} must be >= 1, got {rec[key]}")
    lo, mid, hi = rec["min_ms"], rec["median_ms"], rec["max_ms"]
    if not all(math.isfinite(v) for v in (lo, mid, hi)) or not 0 < lo <= mid <= hi:
        raise PeerResultError(
            f"{where}: need 0 < min_ms <= median_ms <= max_ms, got {lo}, {mid}, {hi}"
        )


def _csv(values: Iterable[int]) -> str:
    vals = list(values)
    if not vals or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in vals):
        raise ValueError(f"expected positive integers, got {vals!r}")
    return ",".join(str(v) for v in vals)


def run_driver(
    python: str | os.PathLike[str],
    driver: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    timeout: float | None = None,
    echo: bool = True,
) -> list[dict[str, Any]]:
    """Run ``python driver --json TMP *args``, stream its stderr (``echo``), and return the
    validated records it wrote to ``TMP``. :class:`PeerRunError` on a non-zero exit or a
    time-out, with the last stderr lines."""
    name = Path(driver).name
    with tempfile.TemporaryDirectory(prefix="bnnflow-peer-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [str(python), str(driver), "--json", str(out), *args]
        tail: collections.deque[str] = collections.deque(maxlen=30)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        ) as proc:
            assert proc.stderr is not None
            try:
                for line in proc.stderr:
                    tail.append(line.rstrip("\n"))
                    if echo:
                        print(f"[{name}] {line}", end="", file=sys.stderr, flush=True)
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise PeerRunError(f"{name} did not finish within {timeout} s") from None
        if rc != 0:
            last = "\n".join(tail)
            raise PeerRunError(f"{name} failed (exit {rc}): {' '.join(cmd)}\n{last}")
        if not out.exists():
            raise PeerResultError(f"{name}: exited 0 but wrote no result file")
        return parse_results(out.read_text(), name)


def run_peers(
    peers: Sequence[str],
    *,
    threads: Sequence[int] = (1, 2),
    batch: Sequence[int] = (1, 8),
    runs: int = 30,
    warmup: int = 5,
    burst: int = 1,
    root: str | os.PathLike[str] | None = None,
    max_load: float | None = None,
    timeout: float | None = None,
    echo: bool = True,
    keep_variants: bool = False,
    models: Mapping[str, Sequence[str]] | None = None,
    save_dir: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Time ``peers`` (names from :data:`PEERS`) and return their records.

    ``save_dir``: keep each driver's model files in ``save_dir/<driver name>/`` (LCE
    ``.tflite``, ONNX ``.onnx``, TorchScript ``.pt``), e.g. for :func:`peer_model_file`.

    ``models`` optionally restricts a peer to some of its models, e.g.
    ``{"lce": ["birealnet"]}``; a peer not named there runs all of :attr:`Peer.models`.

    Peers sharing a driver (``onnxruntime`` and ``onnxruntime-int8``) run in one driver call.
    Every venv is checked before anything runs, so a missing one fails fast. Records of
    sub-variants (``torch-jit``, ``onnxruntime-int8-u8s8``, ...) are dropped unless
    ``keep_variants``; the peer's own record names the winning variant in ``variant``."""
    if not peers:
        raise ValueError("peers: empty selection")
    if runs < 1 or warmup < 0 or burst < 1:
        raise ValueError(f"runs and burst must be >= 1 and warmup >= 0, got runs={runs} "
                         f"warmup={warmup} burst={burst}")
    selected = [get_peer(p) for p in dict.fromkeys(peers)]
    chosen = _choose_models(selected, models or {})
    base = find_root(root)
    pythons = {p.name: peer_python(p, base) for p in selected}
    common = ["--threads", _csv(threads), "--batch", _csv(batch)]
    common += ["--runs", str(runs), "--warmup", str(warmup), "--burst", str(burst)]
    if max_load is not None:
        common += ["--max-load", str(max_load)]
    by_driver: dict[str, list[Peer]] = {}
    for p in selected:
        by_driver.setdefault(p.driver, []).append(p)
    records: list[dict[str, Any]] = []
    for driver, group in by_driver.items():
        args = list(common)
        selectors = [a for p in group for a in p.driver_args]
        if selectors:
            args += ["--engines", ",".join(selectors)]
        names = list(dict.fromkeys(m for p in group for m in chosen[p.name]))
        args += ["--models", ",".join(names)]
        if save_dir is not None and group[0].save_arg:
            args += [group[0].save_arg, str(Path(save_dir) / Path(driver).stem)]
        got = run_driver(
            pythons[group[0].name], base / "benchmarks" / driver, args, timeout=timeout, echo=echo
        )
        wanted = {p.engine for p in group}
        for r in got:
            owners = [p for p in group if r["engine"].startswith(p.engine)]
            owner = max(owners, key=lambda p: len(p.engine), default=None)
            if owner is not None and r["model"] not in chosen[owner.name]:
                continue
            if keep_variants or r["engine"] in wanted:
                records.append(r)
    return records


def peer_model_file(save_dir: str | os.PathLike[str], record: Mapping[str, Any]) -> Path | None:
    """The model file a driver kept under ``save_dir`` (see :func:`run_peers`) for a
    record, or ``None`` if there is none: ``lce_driver/MODEL_bB.tflite``,
    ``ort_driver/resnet18_bB.onnx`` (int8: the winning ``variant``'s ``_u8s8``/``_s8s8``
    file), ``torch_driver/MODEL_bB.pt`` (the frozen TorchScript module)."""
    base, b, m = Path(save_dir), record["batch"], record["model"]
    engine = record["engine"]
    if engine == "lce":
        path = base / "lce_driver" / f"{m}_b{b}.tflite"
    elif engine == "onnxruntime":
        path = base / "ort_driver" / f"{m}_b{b}.onnx"
    elif engine == "onnxruntime-int8":
        suffix = str(record.get("variant", "onnxruntime-int8-u8s8")).rsplit("-", 1)[-1]
        path = base / "ort_driver" / f"{m}_b{b}_{suffix}.onnx"
    elif engine == "torch":
        path = base / "torch_driver" / f"{m}_b{b}.pt"
    else:
        return None
    return path if path.exists() else None


def _choose_models(
    selected: Sequence[Peer], models: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Per selected peer, the models to run; ``ValueError`` for unknown peers or models."""
    names = {p.name for p in selected}
    extra = sorted(set(models) - names)
    if extra:
        raise ValueError(f"models: {extra} not among the selected peers {sorted(names)}")
    chosen = {}
    for p in selected:
        want = list(models.get(p.name, p.models))
        bad = [m for m in want if m not in p.models]
        if bad or not want:
            raise ValueError(f"models[{p.name!r}]: {bad or want} not in {list(p.models)}")
        chosen[p.name] = want
    return chosen


def load_layer_table(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The checked-in larq-zoo layer tables (``benchmarks/data/larq_zoo_layers.json``)."""
    path = find_root(root) / LAYER_TABLE
    return json.loads(path.read_text())


def conv_signature(table: dict[str, Any], model: str) -> list[tuple]:
    """The compute layers of ``model`` (``"birealnet"`` or ``"quicknet"``) in order, as
    ``(kind, kernel, stride, in_channels, out_channels, out_hw, binary)`` tuples — the
    shape-only view to compare another implementation against, layer for layer. ``kind`` is
    ``conv``, ``depthwise`` or ``dense``; ``kernel``/``stride``/``out_hw`` are ``None`` for
    dense layers."""
    try:
        layers = table["models"][model]["layers"]
    except KeyError:
        raise ValueError(f"model {model!r} not in the layer table") from None
    sig = []
    for e in layers:
        if "macs" not in e:
            continue
        kind = (
            "dense" if "kernel" not in e else ("depthwise" if "Depthwise" in e["type"] else "conv")
        )
        sig.append(
            (
                kind,
                tuple(e["kernel"]) if "kernel" in e else None,
                tuple(e["stride"]) if "kernel" in e else None,
                e["in_channels"],
                e["out_channels"],
                tuple(e["out_hw"]) if "out_hw" in e else None,
                bool(e["binary"]),
            )
        )
    return sig
