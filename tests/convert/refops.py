"""Run a converted graph with the reference interpreter, filling in op types whose reference
function has not landed yet with a direct numpy transcription of docs/numerics.md.

The transcription is deliberately naive (loops over taps, float64/int64 arithmetic) and only
used for op types missing from :func:`bnnflow.reference.interpreter.reference_table`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bnnflow.graph import Graph, Op, TensorInfo, validate
from bnnflow.reference import interpreter as ref_interp
from bnnflow.reference.fixedpoint import rshift_round, saturate_int8

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _unpack(words: np.ndarray, c: int, g: int) -> np.ndarray:
    """uint32 [..., G*Wg] → ±1 int64 [..., C]."""
    cg = c // g
    wg = -(-cg // 32)
    lead = words.shape[:-1]
    w = words.reshape(*lead, g, wg, 1).astype(np.uint64)
    bits = (w >> np.arange(32, dtype=np.uint64)) & np.uint64(1)
    bits = bits.reshape(*lead, g, wg * 32)[..., :cg].reshape(*lead, c)
    return 1 - 2 * bits.astype(np.int64)


def _pack(bits: np.ndarray, g: int) -> np.ndarray:
    c = bits.shape[-1]
    cg = c // g
    wg = -(-cg // 32)
    lead = bits.shape[:-1]
    pad = np.zeros((*lead, g, wg * 32), np.uint64)
    pad[..., :cg] = bits.reshape(*lead, g, cg)
    wts = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    return (pad.reshape(*lead, g, wg, 32) * wts).sum(-1).astype(np.uint32).reshape(*lead, g * wg)


def _windows(x: np.ndarray, k: int, s: int, p: int, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Padded x and a validity mask for taps (NHWC). Returns patches [N,Ho,Wo,k,k,C], mask."""
    n, h, w, c = x.shape
    xp = np.full((n, h + 2 * p, w + 2 * p, c), fill, dtype=x.dtype)
    xp[:, p:p + h, p:p + w] = x
    valid = np.zeros((h + 2 * p, w + 2 * p), bool)
    valid[p:p + h, p:p + w] = True
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    pat = np.empty((n, ho, wo, k, k, c), dtype=x.dtype)
    msk = np.empty((ho, wo, k, k), bool)
    for i in range(k):
        for j in range(k):
            pat[:, :, :, i, j] = xp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
            msk[:, :, i, j] = valid[i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
    return pat, msk


def _epilogue(op: Op, d: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
    a = op.attrs
    lo = INT32_MIN if a["clamp_lo"] is None else a["clamp_lo"]
    hi = INT32_MAX if a["clamp_hi"] is None else a["clamp_hi"]
    d = np.clip(d, lo, hi)
    e = a["epilogue"]
    if e == "int32":
        return d.astype(np.int32)
    if e == "float":
        return d.astype(np.float32) * p["scale"] + p["bias"]
    if e == "int8":
        q = np.clip(d, -128, 127)
        return saturate_int8(rshift_round(p["M"].astype(np.int64) * q + p["B"], p["s"]))
    return _pack(d < p["T"].astype(np.int64), a["out_groups"])


def _bconv(op: Op, ins: list, p: Mapping, infos: list[TensorInfo]) -> np.ndarray:
    a, x = op.attrs, ins[0]
    c, g = infos[0].channels, a["groups"]
    w = p["weights"]
    cout, kh, _kw, _ = w.shape
    xv = _unpack(x, c, g)
    wv = _unpack(w, c // g, 1)  # [Cout, kh, kw, Cg]
    fill = 1 if a["pad_mode"] == "one" else 0
    pat, _ = _windows(xv, kh, a["stride"], a["padding"], fill)
    cg, og = c // g, cout // g
    d = np.zeros((*pat.shape[:3], cout), np.int64)
    for gi in range(g):
        xs = pat[..., gi * cg:(gi + 1) * cg].reshape(*pat.shape[:3], -1)
        ws = wv[gi * og:(gi + 1) * og].reshape(og, -1)
        d[..., gi * og:(gi + 1) * og] = xs @ ws.T
    return _epilogue(op, d, p)


def _bdense(op: Op, ins: list, p: Mapping, infos: list[TensorInfo]) -> np.ndarray:
    c = infos[0].channels
    d = _unpack(ins[0], c, 1) @ _unpack(p["weights"], c, 1).T
    return _epilogue(op, d, p)


def _pack_op(op: Op, ins: list, p: Mapping, infos: list[TensorInfo]) -> np.ndarray:
    return _pack(ins[0] < p["t"], op.attrs["groups"])


def _requant(op, ins, p, infos):
    v = p["M"].astype(np.int64) * ins[0].astype(np.int64) + p["B"].astype(np.int64)
    return saturate_int8(rshift_round(v, p["s"]))


def _add(op, ins, p, infos):
    v = (p["Ma"].astype(np.int64) * ins[0] + p["Mb"].astype(np.int64) * ins[1]
         + p["B"].astype(np.int64))
    return saturate_int8(rshift_round(v, p["s"]))


def _pwl(op, ins, p, infos):
    q = ins[0].astype(np.int64)
    v = np.where(q >= p["t"], p["Mp"].astype(np.int64) * q + p["Bp"],
                 p["Mn"].astype(np.int64) * q + p["Bn"])
    return saturate_int8(rshift_round(v, p["s"]))


def _pool(kind: str):
    def f(op, ins, p, infos):
        a = op.attrs
        x = ins[0]
        pat, msk = _windows(x.astype(np.float64 if x.dtype == np.float32 else np.int64),
                            a["kernel"], a["stride"], a["padding"], 0)
        m = msk[None, :, :, :, :, None]
        if kind == "max":
            v = np.where(m, pat, -np.inf).max(axis=(3, 4))
            return v.astype(x.dtype)
        s = np.where(m, pat, 0).sum(axis=(3, 4))
        if kind == "sum":
            return s.astype(np.int32)
        return (pat.astype(np.float32) * m).sum(axis=(3, 4), dtype=np.float32) / np.float32(
            a["kernel"] ** 2)
    return f


def _conv_int8(op, ins, p, infos):
    a = op.attrs
    x = ins[0].astype(np.int64) - p["zp"].astype(np.int64)
    w = p["weights"].astype(np.int64)
    cout, kh, _kw, _cin = w.shape
    pat, _ = _windows(x, kh, a["stride"], a["padding"], 0)
    acc = pat.reshape(*pat.shape[:3], -1) @ w.reshape(cout, -1).T + p["bias"]
    return acc.astype(np.int32)


def _dwconv_int8(op, ins, p, infos):
    a = op.attrs
    x = ins[0].astype(np.int64) - p["zp"].astype(np.int64)
    w = p["weights"].astype(np.int64)
    cm, kh, _kw = w.shape
    c = x.shape[-1]
    m = cm // c
    pat, _ = _windows(x, kh, a["stride"], a["padding"], 0)
    pat = np.repeat(pat, m, axis=-1)  # channel c*m + j reads c
    acc = (pat * w.transpose(1, 2, 0)).sum(axis=(3, 4)) + p["bias"]
    return acc.astype(np.int32)


def _conv_f32(op, ins, p, infos):
    a = op.attrs
    w = p["weights"].astype(np.float64)
    cout, kh, _kw, _cin = w.shape
    pat, _ = _windows(ins[0].astype(np.float64), kh, a["stride"], a["padding"], 0)
    y = pat.reshape(*pat.shape[:3], -1) @ w.reshape(cout, -1).T + p["bias"]
    return y.astype(np.float32)


_TABLE = {
    "pack": _pack_op, "bconv": _bconv, "bdense": _bdense,
    "requant": _requant,
    "requant32": _requant,
    "add": _add, "pwl": _pwl,
    "maxpool_int8": _pool("max"), "sumpool_int8": _pool("sum"),
    "global_sumpool_int8": lambda op, ins, p, i: ins[0].astype(np.int64).sum((1, 2)).astype(
        np.int32),
    "conv2d_int8": _conv_int8, "dwconv2d_int8": _dwconv_int8,
    "dense_int8": lambda op, ins, p, i: (ins[0].astype(np.int64) @ p["weights"].astype(
        np.int64).T + p["bias"]).astype(np.int32),
    "dequant": lambda op, ins, p, i: ins[0].astype(np.float32) * p["scale"] + p["bias"],
    "scale_bias": lambda op, ins, p, i: ins[0] * p["scale"] + p["bias"],
    "add_f32": lambda op, ins, p, i: ins[0] + ins[1],
    "pwl_f32": lambda op, ins, p, i: np.where(ins[0] >= p["t"], p["kp"] * ins[0] + p["bp"],
                                              p["kn"] * ins[0] + p["bn"]).astype(np.float32),
    "conv2d_f32": _conv_f32,
    "dense_f32": lambda op, ins, p, i: (ins[0] @ p["weights"].T + p["bias"]).astype(np.float32),
    "maxpool_f32": _pool("max"), "avgpool_f32": _pool("avg"),
    "global_avgpool_f32": lambda op, ins, p, i: ins[0].mean((1, 2), dtype=np.float32),
    "flatten": lambda op, ins, p, i: ins[0].reshape(ins[0].shape[0], -1),
}


def _official() -> dict:
    """The reference interpreter's table; empty while the per-op modules it imports have
    not landed yet."""
    try:
        return dict(ref_interp.reference_table())
    except ImportError:
        return {}


def run_all(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray,
            force: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every activation of ``graph`` on ``x``: the reference interpreter's functions where
    they exist, the transcription above for the rest. ``force`` (tensor -> array): after
    recording an op's own output, later ops read the forced array instead (teacher
    forcing); the returned dict holds the op's own outputs."""
    force = force or {}
    infos = validate(graph, tensors)
    official = _official()
    values = {graph.input_spec.name: graph.input_spec.check(x)}
    seen = dict(values)
    for op in graph.ops:
        params = {r: tensors[n] for r, n in op.params.items()}
        ins = [values[t] for t in op.inputs]
        fn = official.get(op.type)
        if fn is not None:
            out = fn(op, ins, params, [infos[t] for t in op.inputs])
        else:
            out = _TABLE[op.type](op, ins, params, [infos[t] for t in op.inputs])
        values[op.outputs[0]] = out
        seen[op.outputs[0]] = out
        if op.outputs[0] in force:
            values[op.outputs[0]] = force[op.outputs[0]]
    return seen


def run(graph: Graph, tensors: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return run_all(graph, tensors, x)[graph.output_spec.name]
