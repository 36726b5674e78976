"""Binders from IR ops onto the ``bnnflow._engine`` functions.

Each binder prepares what can be prepared once (re-arranged binary weights, epilogue keyword
arguments) and returns ``fn(inputs, out)``. A binder returns ``None`` when this build of the
engine lacks the function, and the op falls back to the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bnnflow.graph import Op, TensorInfo
from bnnflow.reference.interpreter import epilogue_kwargs
from bnnflow.runtime.kernels import Binder, KernelFn

Infos = list[TensorInfo]
Params = Mapping[str, np.ndarray]


def _engine_fn(name: str) -> Callable[..., Any] | None:
    from bnnflow import _engine

    return getattr(_engine, name, None)


def _writer(call: Callable[[list[np.ndarray]], np.ndarray]) -> KernelFn:
    """``fn(inputs, out)`` that stores ``call(inputs)`` into the arena view ``out``."""
    def run(inputs: list[np.ndarray], out: np.ndarray) -> None:
        out[...] = call(inputs)
    return run


def bind_pack(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
              ) -> KernelFn | None:
    fn = _engine_fn("pack_bits")
    if fn is None:
        return None
    t, groups = p["t"], op.attrs["groups"]
    return _writer(lambda x: fn(x[0], t, groups, isa=isa, threads=threads))


def bind_bconv(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
               ) -> KernelFn | None:
    prepare, fn = _engine_fn("prepare_bconv_weights"), _engine_fn("bconv2d")
    if prepare is None or fn is None:
        return None
    a = op.attrs
    weights = prepare(p["weights"], ins[0].channels, a["groups"], isa=isa)
    kw = {"stride": a["stride"], "padding": a["padding"], "pad_mode": a["pad_mode"],
          **epilogue_kwargs(op, p), "isa": isa, "threads": threads}
    return _writer(lambda x: fn(x[0], weights, **kw))


def bind_bdense(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
                ) -> KernelFn | None:
    prepare, fn = _engine_fn("prepare_bdense_weights"), _engine_fn("bdense")
    if prepare is None or fn is None:
        return None
    weights = prepare(p["weights"], ins[0].channels, isa=isa)
    kw = {**epilogue_kwargs(op, p), "isa": isa, "threads": threads}
    return _writer(lambda x: fn(x[0], weights, **kw))


def bind_maxpool_packed(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str,
                        threads: int) -> KernelFn | None:
    fn = _engine_fn("maxpool_packed")
    if fn is None:
        return None
    a = op.attrs
    return _writer(lambda x: fn(x[0], a["kernel"], a["stride"], a["padding"], isa=isa,
                                threads=threads))


#: op type -> binder.
ENGINE_BINDERS: dict[str, Binder] = {
    "pack": bind_pack,
    "bconv": bind_bconv,
    "bdense": bind_bdense,
    "maxpool_packed": bind_maxpool_packed,
}
