"""Binding ops to engine kernels, once per interpreter.

:func:`bind_kernel` returns a :class:`Kernel`: ``kernel(inputs, out)`` computes one op from its
input arrays. A kernel with ``writes_out`` writes into ``out`` (a view of the arena) and returns
it; one without it ignores ``out`` (None) and returns a fresh array. Engine functions that take
an ``out=`` argument are bound in the first mode, the others in the second (no copy into the
arena, which would only add a memcpy per op).

Each op type's binder (:mod:`bnnflow.runtime.engine_ops`) turns the op's attrs and params into
the arguments of its ``bnnflow._engine`` function ahead of time, so a run does no more than call
the engine. An op type the engine does not provide falls back to the numpy reference
(``Kernel.backend == "reference"``), which is exact but slow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bnnflow.graph import Op, TensorInfo
from bnnflow.reference.interpreter import reference_table

#: ``fn(inputs, out) -> output``; ``out`` is an arena view or None (see :class:`Kernel`).
KernelFn = Callable[[list[np.ndarray], "np.ndarray | None"], np.ndarray]


@dataclass(frozen=True)
class Kernel:
    """A bound op. ``writes_out``: the kernel writes into the ``out`` it is given (and returns
    it); otherwise it is called with ``out=None`` and returns a new array."""

    fn: KernelFn
    backend: str
    writes_out: bool

    def __call__(self, inputs: list[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        return self.fn(inputs, out)


#: ``binder(op, input infos, output info, params, isa, threads) -> Kernel or None`` (None: the
#: engine has no kernel for this op).
Binder = Callable[[Op, list[TensorInfo], TensorInfo, Mapping[str, np.ndarray], str, int],
                  Kernel | None]


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


def reference_kernel(op: Op, params: Mapping[str, np.ndarray], infos: list[TensorInfo]
                     ) -> Kernel:
    """The op on its numpy reference function (returns a new array)."""
    fn = reference_table().get(op.type)
    if fn is None:
        raise NotImplementedError(f"op {op.name!r}: neither the engine nor the reference "
                                  f"implements op type {op.type!r}")
    return Kernel(lambda inputs, out: fn(op, inputs, params, infos), "reference", False)


def bind_kernel(op: Op, inputs: list[TensorInfo], output: TensorInfo,
                params: Mapping[str, np.ndarray], *, isa: str, threads: int) -> Kernel:
    """Bind ``op`` to its engine kernel, or to the reference when the engine lacks it."""
    from bnnflow.runtime.engine_ops import ENGINE_BINDERS

    binder = ENGINE_BINDERS.get(op.type)
    kernel = binder(op, inputs, output, params, isa, threads) if binder is not None else None
    return kernel if kernel is not None else reference_kernel(op, params, inputs)
