"""Binders from IR ops onto the ``bnnflow._engine`` functions.

Each binder prepares what can be prepared once (re-arranged binary weights, epilogue keyword
arguments) and returns a :class:`~bnnflow.runtime.kernels.Kernel`. A binder returns ``None``
when this build of the engine lacks the function, and the op falls back to the reference.
An engine function whose signature has an ``out`` argument is called with the arena view as
``out=``; the others return their own array.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bnnflow.graph import Op, TensorInfo
from bnnflow.reference.interpreter import epilogue_kwargs
from bnnflow.runtime.kernels import Binder, Kernel

Infos = list[TensorInfo]
Params = Mapping[str, np.ndarray]


def _engine_fn(name: str) -> Callable[..., Any] | None:
    from bnnflow import _engine

    return getattr(_engine, name, None)


def accepts_out(fn: Callable[..., Any]) -> bool:
    """Whether the nanobind function ``fn`` has an ``out`` parameter."""
    sigs = getattr(fn, "__nb_signature__", ())
    return any(re.search(r"[(,*]\s*out\s*:", sig[0]) for sig in sigs)


def _engine_kernel(fn: Callable[..., Any], call: Callable[..., np.ndarray]) -> Kernel:
    """Kernel from ``call(inputs, **extra)`` on engine function ``fn``; passes ``out=`` when
    ``fn`` takes it."""
    if accepts_out(fn):
        return Kernel(lambda inputs, out: call(inputs, out=out), "engine", True)
    return Kernel(lambda inputs, out: call(inputs), "engine", False)


def bind_pack(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
              ) -> Kernel | None:
    fn = _engine_fn("pack_bits")
    if fn is None:
        return None
    t, groups = p["t"], op.attrs["groups"]
    return _engine_kernel(fn, lambda x, **o: fn(x[0], t, groups, isa=isa, threads=threads, **o))


def bind_bconv(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
               ) -> Kernel | None:
    prepare, fn = _engine_fn("prepare_bconv_weights"), _engine_fn("bconv2d")
    if prepare is None or fn is None:
        return None
    a = op.attrs
    weights = prepare(p["weights"], ins[0].channels, a["groups"], isa=isa)
    kw = {"stride": a["stride"], "padding": a["padding"], "pad_mode": a["pad_mode"],
          **epilogue_kwargs(op, _shift32(p)), "isa": isa, "threads": threads}
    return _engine_kernel(fn, lambda x, **o: fn(x[0], weights, **kw, **o))


def bind_bdense(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
                ) -> Kernel | None:
    prepare, fn = _engine_fn("prepare_bdense_weights"), _engine_fn("bdense")
    if prepare is None or fn is None:
        return None
    weights = prepare(p["weights"], ins[0].channels, isa=isa)
    kw = {**epilogue_kwargs(op, _shift32(p)), "isa": isa, "threads": threads}
    return _engine_kernel(fn, lambda x, **o: fn(x[0], weights, **kw, **o))


def bind_maxpool_packed(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str,
                        threads: int) -> Kernel | None:
    fn = _engine_fn("maxpool_packed")
    if fn is None:
        return None
    a = op.attrs
    return _engine_kernel(fn, lambda x, **o: fn(x[0], a["kernel"], a["stride"], a["padding"],
                                                isa=isa, threads=threads, **o))


def _shift32(p: Params) -> dict[str, np.ndarray]:
    """Params with the shift ``s`` widened to the int32 the engine takes (int8 in the file)."""
    return {r: (a.astype(np.int32) if r == "s" else a) for r, a in p.items()}


def _params_call(name: str, roles: tuple[str, ...], n_inputs: int = 1) -> Binder:
    """Binder for ``_engine.<name>(*inputs, *params[roles], isa=, threads=)``."""
    def bind(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
             ) -> Kernel | None:
        fn = _engine_fn(name)
        if fn is None:
            return None
        wide = _shift32(p)
        args = [wide[r] for r in roles]
        return _engine_kernel(fn, lambda x, **o: fn(*x[:n_inputs], *args, isa=isa,
                                                    threads=threads, **o))
    return bind


def _window_call(name: str) -> Binder:
    """Binder for ``_engine.<name>(x, kernel, stride, padding, isa=, threads=)``."""
    def bind(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
             ) -> Kernel | None:
        fn = _engine_fn(name)
        if fn is None:
            return None
        a = op.attrs
        return _engine_kernel(fn, lambda x, **o: fn(x[0], a["kernel"], a["stride"],
                                                    a["padding"], isa=isa, threads=threads,
                                                    **o))
    return bind


def _conv_call(name: str, roles: tuple[str, ...]) -> Binder:
    """Binder for ``_engine.<name>(x, *params, stride=, padding=, isa=, threads=)``."""
    def bind(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
             ) -> Kernel | None:
        fn = _engine_fn(name)
        if fn is None:
            return None
        args = [p[r] for r in roles]
        kw = {"stride": op.attrs["stride"], "padding": op.attrs["padding"], "isa": isa,
              "threads": threads}
        return _engine_kernel(fn, lambda x, **o: fn(x[0], *args, **kw, **o))
    return bind


def _prepared_conv_call(name: str, prepare_name: str, roles: tuple[str, ...]) -> Binder:
    """Binder for ``_engine.<name>(x, prepared, stride=, padding=, isa=, threads=)`` with the
    weights re-laid once here by ``_engine.<prepare_name>(*params[roles], isa=)`` (int8 convs
    also fix the input dtype); an engine without the prepare function gets the arrays."""
    plain = _conv_call(name, roles)

    def bind(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
             ) -> Kernel | None:
        fn, prepare = _engine_fn(name), _engine_fn(prepare_name)
        if fn is None or prepare is None:
            return plain(op, ins, out, p, isa, threads)
        extra = {"x_dtype": ins[0].dtype} if "zp" in roles else {}
        weights = prepare(*(p[r] for r in roles), **extra, isa=isa)
        kw = {"stride": op.attrs["stride"], "padding": op.attrs["padding"], "isa": isa,
              "threads": threads}
        return _engine_kernel(fn, lambda x, **o: fn(x[0], weights, **kw, **o))
    return bind


def bind_conv_requant(conv: Op, requant: Op, ins: Infos, p_conv: Params, p_req: Params,
                      isa: str, threads: int) -> Kernel | None:
    """``conv2d_int8`` then ``requant32`` as one ``_engine.conv2d_int8_requant`` call (see
    :mod:`bnnflow.runtime.fusion`); None when the engine lacks it."""
    prepare, fn = _engine_fn("prepare_conv2d_int8_weights"), _engine_fn("conv2d_int8_requant")
    if prepare is None or fn is None:
        return None
    weights = prepare(p_conv["weights"], p_conv["bias"], p_conv["zp"], x_dtype=ins[0].dtype,
                      isa=isa)
    q = _shift32(p_req)
    kw = {"stride": conv.attrs["stride"], "padding": conv.attrs["padding"], "isa": isa,
          "threads": threads}
    return _engine_kernel(fn, lambda x, **o: fn(x[0], weights, q["M"], q["B"], q["s"], **kw, **o))


def bind_concat(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
                ) -> Kernel | None:
    fn = _engine_fn("concat")
    if fn is None:
        return None
    return _engine_kernel(fn, lambda x, **o: fn(list(x), isa=isa, threads=threads, **o))


def bind_flatten(op: Op, ins: Infos, out: TensorInfo, p: Params, isa: str, threads: int
                 ) -> Kernel | None:
    """flatten is a layout change only: C-contiguous NHWC data already is ``[N, H*W*C]``.
    It copies into the arena rather than returning a view, so no tensor aliases another."""
    def run(inputs: list[np.ndarray], dst: np.ndarray | None) -> np.ndarray:
        assert dst is not None
        dst[...] = inputs[0].reshape(dst.shape)
        return dst
    return Kernel(run, "engine", True)


#: op type -> binder.
ENGINE_BINDERS: dict[str, Binder] = {
    "pack": bind_pack,
    "bconv": bind_bconv,
    "bdense": bind_bdense,
    "maxpool_packed": bind_maxpool_packed,
    "requant": _params_call("requant", ("M", "B", "s")),
    "requant32": _params_call("requant32", ("M", "B", "s")),
    "add": _params_call("add_int8", ("Ma", "Mb", "B", "s"), n_inputs=2),
    "pwl": _params_call("pwl_int8", ("t", "Mp", "Bp", "Mn", "Bn", "s")),
    "maxpool_int8": _window_call("maxpool_int8"),
    "sumpool_int8": _window_call("sumpool_int8"),
    "global_sumpool_int8": _params_call("global_sumpool_int8", ()),
    "conv2d_int8": _prepared_conv_call("conv2d_int8", "prepare_conv2d_int8_weights",
                                       ("weights", "bias", "zp")),
    "dwconv2d_int8": _conv_call("dwconv2d_int8", ("weights", "bias", "zp")),
    "dense_int8": _params_call("dense_int8", ("weights", "bias")),
    "concat": bind_concat,
    "dequant": _params_call("dequant", ("scale", "bias")),
    "scale_bias": _params_call("scale_bias", ("scale", "bias")),
    "add_f32": _params_call("add_f32", (), n_inputs=2),
    "pwl_f32": _params_call("pwl_f32", ("t", "kp", "bp", "kn", "bn")),
    "conv2d_f32": _prepared_conv_call("conv2d_f32", "prepare_conv2d_f32_weights",
                                      ("weights", "bias")),
    "dense_f32": _params_call("dense_f32", ("weights", "bias")),
    "maxpool_f32": _window_call("maxpool_f32"),
    "avgpool_f32": _window_call("avgpool_f32"),
    "global_avgpool_f32": _params_call("global_avgpool_f32", ()),
    "flatten": bind_flatten,
}
