"""Binding ops to engine kernels, once per interpreter.

:func:`bind_kernel` returns a :class:`Kernel`: ``kernel(inputs, out)`` computes one op from its
input arrays into ``out`` (a view of the arena). Each op type's binder turns the op's attrs and
params into the arguments of its ``bnnflow._engine`` function ahead of time, so a run does no
more than call the engine. An op type the engine does not provide falls back to the numpy
reference (``Kernel.backend == "reference"``), which is exact but slow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bnnflow.graph import Op, TensorInfo
from bnnflow.reference.interpreter import reference_table

KernelFn = Callable[[list[np.ndarray], np.ndarray], None]
#: ``binder(op, input infos, output info, params, isa, threads) -> fn or None`` (None: the
#: engine has no kernel for this case).
Binder = Callable[[Op, list[TensorInfo], TensorInfo, Mapping[str, np.ndarray], str, int],
                  KernelFn | None]


@dataclass(frozen=True)
class Kernel:
    """A bound op: ``kernel(inputs, out)`` writes the op's output into ``out``."""

    fn: KernelFn
    backend: str

    def __call__(self, inputs: list[np.ndarray], out: np.ndarray) -> None:
        self.fn(inputs, out)


def resolve_isa(isa: str | None) -> str:
    """``isa`` checked against this CPU, or the engine's active ISA when ``None``.

    Raises:
        ValueError: not an ISA name.
        RuntimeError: this CPU cannot run it.
    """
    from bnnflow import cpu

    if isa is None:
        return cpu.active_isa()
    known = ("scalar", "avx2", "avx512", "neon")
    if isa not in known:
        raise ValueError(f"isa must be one of {', '.join(known)}, got {isa!r}")
    if isa not in cpu.supported_isas():
        raise RuntimeError(f"isa {isa!r} is not supported by this CPU (supported: "
                           f"{', '.join(cpu.supported_isas())})")
    return isa


def _reference_kernel(op: Op, params: Mapping[str, np.ndarray], infos: list[TensorInfo]
                      ) -> KernelFn:
    fn = reference_table().get(op.type)
    if fn is None:
        raise NotImplementedError(f"op {op.name!r}: neither the engine nor the reference "
                                  f"implements op type {op.type!r}")

    def run(inputs: list[np.ndarray], out: np.ndarray) -> None:
        out[...] = fn(op, inputs, params, infos)
    return run


def bind_kernel(op: Op, inputs: list[TensorInfo], output: TensorInfo,
                params: Mapping[str, np.ndarray], *, isa: str, threads: int) -> Kernel:
    """Bind ``op`` to its engine kernel, or to the reference when the engine lacks it."""
    from bnnflow.runtime.engine_ops import ENGINE_BINDERS

    binder = ENGINE_BINDERS.get(op.type)
    fn = binder(op, inputs, output, params, isa, threads) if binder is not None else None
    if fn is not None:
        return Kernel(fn, "engine")
    return Kernel(_reference_kernel(op, params, inputs), "reference")
