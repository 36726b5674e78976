"""Pass (int8 data-flow): turn every real rescale into integers (docs/conversion.md).

Runs after :mod:`assign_scales`, so every int8 tensor ``x`` has its scale ``S_x``. Per node
(``m·2^−s`` and ``b·2^−s`` approximated by :func:`bnnflow.convert.fixedpoint.choose`):

| node | result | real multiplier ``m`` | real offset ``b`` (output units) |
|---|---|---|---|
| ``conv`` (stem: uint8, zp) | ``conv2d_int8`` + ``requant32`` | ``a·S_in·sw/S`` | ``out_b/S`` |
| ``linear`` → logits | ``dense_int8`` + ``dequant`` | scale ``a·S_in·sw`` | bias ``out_b`` |
| ``linear`` → int8 | ``dense_int8`` + ``requant32`` | ``a·S_in·sw/S`` | ``out_b/S`` |
| ``bconv``/``blinear`` → int8 | int8 epilogue | ``out_a/S`` | ``out_b/S`` |
| ``bconv``/``blinear`` → logits | int32 epilogue + ``dequant`` | scale ``out_a`` | bias ``out_b`` |
| ``affine`` (BN alone) | ``requant`` | ``a·S_in/S`` | ``b/S`` |
| ``add`` | ``add`` | ``S_a/S``, ``S_b/S`` | 0 |
| ``pwl`` | ``pwl``, ``t_q = ceil(t/S_in)`` | ``kp·S_in/S``, ``kn·S_in/S`` | ``bp/S``, ``bn/S`` |
| ``maxpool`` | ``maxpool_int8`` (+ ``requant`` if ``S ≠ S_in``) | ``S_in/S`` | 0 |
| ``avgpool`` | ``sumpool_int8`` + ``requant32`` | ``S_in/(k²·S)`` | 0 |
| ``gap`` | ``global_sumpool_int8`` + ``requant32`` | ``S_in/(H·W·S)`` | 0 |
| ``requant`` (second Int8Point) | ``requant`` | ``S_in/S`` | 0 |
| ``sign`` | ``pack``, ``t_q = ceil(t/S_in)`` | | |
| ``concat``, ``channel_shuffle`` | ``concat``, ``channel_shuffle`` (inputs already at ``S``) | | |

Integer params go to ``attrs['fx']`` (role → array) and ``attrs['fx2']`` for the second op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnnflow.convert import fixedpoint
from bnnflow.convert.lgraph import LGraph, LNode
from bnnflow.graph.fixedpoint import INT32_IN_INT64

I8 = 128.0  # bound on |q| of an int8 tensor
TINY_SCALE = 1e-8  # an int8 scale below this hints at a tensor that was ~0 during calibration
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _scale_note(node: LNode) -> str:
    """Where the output scale came from: a tiny ``S`` (a tensor nearly 0 on every calibration
    batch) makes every multiplier into it huge."""
    S = node.attrs.get("S")
    if S is None:
        return ""
    src = node.attrs.get("S_from") or node.module
    hint = "; a tiny S means that tensor was nearly 0 on every calibration batch" \
        if S < TINY_SCALE else ""
    return f" (output scale S = {S:.4g} of Int8Point {src!r}{hint})"


def _requant(m: np.ndarray, b: np.ndarray, in_max: Any, node: LNode) -> dict[str, np.ndarray]:
    try:
        (M,), B, s = fixedpoint.choose([m], b, [in_max])
    except ValueError as err:
        raise node.error(f"requantization does not fit int16 fixed point: {err}"
                         f"{_scale_note(node)}") from err
    return {"M": M.astype(np.int16), "B": B.astype(np.int32), "s": s.astype(np.int8)}


def _requant32(m: np.ndarray, b: np.ndarray, in_max: Any, node: LNode) -> dict[str, np.ndarray]:
    try:
        (M,), B, s = fixedpoint.choose([m], b, [in_max], bits=32, max_shift=62,
                                       acc=INT32_IN_INT64)
    except ValueError as err:
        raise node.error(f"requantization does not fit int32 fixed point: {err}"
                         f"{_scale_note(node)}") from err
    return {"M": M.astype(np.int32), "B": B.astype(np.int64), "s": s.astype(np.int8)}


def _scale_of(graph: LGraph, name: str, node: LNode) -> float:
    src = graph.node(name)
    if "S" not in src.attrs:
        raise node.error(f"its input {src.module or src.name!r} is not an int8 tensor")
    return float(src.attrs["S"])


def _int_threshold(t: np.ndarray, s_in: float) -> np.ndarray:
    """``ceil(t/S)`` limited to [-129, 128] (beyond, the bits are constant anyway)."""
    return np.clip(np.ceil(t / s_in), -129, 128).astype(np.int32)


def _conv_input(graph: LGraph, node: LNode) -> tuple[float, np.ndarray, np.ndarray]:
    """``(S_in, zp, max|x − zp|)`` of a conv's input: the uint8 image or an int8 tensor."""
    src = graph.node(node.inputs[0])
    cin = src.channels
    if src.kind == "normalize":
        a, zp = src.attrs["a"], src.attrs["zp"].astype(np.int64)
        folded = node.attrs["input_scale"]
        if node.attrs["groups"] != 1 or folded is None or not np.allclose(folded, a, rtol=1e-6):
            raise node.error("the stem conv after InputNormalize must be a QConv2d with "
                             "groups=1 and input_scale equal to the normalisation scale "
                             f"{a.tolist()} (its int8 weights fold that scale in)")
        return 1.0, zp, np.maximum(zp, 255 - zp).astype(np.float64)
    return _scale_of(graph, node.inputs[0], node), np.zeros(cin, np.int64), np.full(cin, I8)


def _acc_bound(q: np.ndarray, xmax: np.ndarray, groups: int) -> np.ndarray:
    """``max |Σ w·x|`` per output channel for int8 weights ``q`` [O, I/g, kh, kw]."""
    o, ig = q.shape[:2]
    og = o // groups
    xm = xmax.reshape(groups, ig)
    absq = np.abs(q.astype(np.float64)).reshape(o, ig, -1).sum(axis=2)
    return np.array([absq[i] @ xm[i // og] for i in range(o)])


def _conv(graph: LGraph, node: LNode) -> None:
    s_in, zp, xmax = _conv_input(graph, node)
    a, b, sw = node.attrs["out_a"], node.attrs["out_b"], node.attrs["sw"]
    node.attrs["zp"] = zp.astype(np.int32)
    bound = _acc_bound(node.attrs["qweight"], xmax, node.attrs["groups"])
    if graph.is_output(node.name):
        raise node.error("a convolution cannot produce the logits; end the model with a "
                         "Linear classifier")
    S = node.attrs["S"]
    node.attrs["fx2"] = _requant32(a * s_in * sw / S, b / S, bound, node)


def _linear(graph: LGraph, node: LNode) -> None:
    s_in = _scale_of(graph, node.inputs[0], node)
    a, b, sw = node.attrs["out_a"], node.attrs["out_b"], node.attrs["sw"]
    if graph.is_output(node.name):
        node.attrs["fx2"] = {"scale": (a * s_in * sw).astype(np.float32),
                             "bias": b.astype(np.float32)}
        return
    S = node.attrs["S"]
    bound = np.abs(node.attrs["qweight"].astype(np.float64)).sum(axis=1) * I8
    node.attrs["fx2"] = _requant32(a * s_in * sw / S, b / S, bound, node)


def _binary(graph: LGraph, node: LNode) -> None:
    if node.attrs.get("epilogue") == "packed":
        return
    a, b = node.attrs["out_a"], node.attrs["out_b"]
    if graph.is_output(node.name):
        node.attrs["epilogue"] = "int32"
        node.attrs["fx2"] = {"scale": a.astype(np.float32), "bias": b.astype(np.float32)}
        return
    if not node.attrs["clip"]:
        raise node.error("clip=False: the int8 data-flow needs the clipping block "
                         "(enable_int8 sets clip=True before fine-tuning)")
    S = node.attrs["S"]
    node.attrs["epilogue"] = "int8"
    node.attrs["fx"] = _requant(a / S, b / S, I8, node)


def _affine(graph: LGraph, node: LNode) -> None:
    s_in = _scale_of(graph, node.inputs[0], node)
    S = node.attrs["S"]
    node.attrs["fx"] = _requant(node.attrs["a"] * s_in / S, node.attrs["b"] / S, I8, node)


def _add(graph: LGraph, node: LNode) -> None:
    sa = _scale_of(graph, node.inputs[0], node)
    sb = _scale_of(graph, node.inputs[1], node)
    S, c = node.attrs["S"], node.channels
    try:
        (Ma, Mb), B, s = fixedpoint.choose([np.full(c, sa / S), np.full(c, sb / S)],
                                           np.zeros(c), [I8, I8])
    except ValueError as err:
        raise node.error(f"the residual add does not fit int16 fixed point: {err}"
                         f"{_scale_note(node)}") from err
    node.attrs["fx"] = {"Ma": Ma.astype(np.int16), "Mb": Mb.astype(np.int16),
                        "B": B.astype(np.int32), "s": s.astype(np.int8)}


def _pwl(graph: LGraph, node: LNode) -> None:
    s_in = _scale_of(graph, node.inputs[0], node)
    S, at = node.attrs["S"], node.attrs
    pos, neg = (at["kp"] * s_in / S, at["bp"] / S), (at["kn"] * s_in / S, at["bn"] / S)
    try:
        _, _, sp = fixedpoint.choose([pos[0]], pos[1], [I8])
        _, _, sn = fixedpoint.choose([neg[0]], neg[1], [I8])
        s = np.minimum(sp, sn)  # feasibility is monotone in s: both keep exactly this s
        (Mp,), Bp, _ = fixedpoint.choose([pos[0]], pos[1], [I8], max_shift=s)
        (Mn,), Bn, _ = fixedpoint.choose([neg[0]], neg[1], [I8], max_shift=s)
    except ValueError as err:
        raise node.error(f"the non-linearity does not fit int16 fixed point: {err}"
                         f"{_scale_note(node)}") from err
    node.attrs["fx"] = {"t": _int_threshold(at["t"], s_in), "Mp": Mp.astype(np.int16),
                        "Bp": Bp.astype(np.int32), "Mn": Mn.astype(np.int16),
                        "Bn": Bn.astype(np.int32), "s": s.astype(np.int8)}


def _rescale(graph: LGraph, node: LNode, divisor: float, wide: bool) -> dict[str, np.ndarray]:
    s_in = _scale_of(graph, node.inputs[0], node)
    S, c = node.attrs["S"], node.channels
    m = np.full(c, s_in / (divisor * S))
    if wide:
        return _requant32(m, np.zeros(c), divisor * I8, node)
    return _requant(m, np.zeros(c), I8, node)


def _maxpool(graph: LGraph, node: LNode) -> None:
    if node.attrs["S"] != _scale_of(graph, node.inputs[0], node):
        node.attrs["fx2"] = _rescale(graph, node, 1.0, wide=False)


def run(graph: LGraph) -> None:
    for node in graph:
        kind = node.kind
        if kind == "conv":
            _conv(graph, node)
        elif kind == "linear":
            _linear(graph, node)
        elif kind in ("bconv", "blinear"):
            _binary(graph, node)
        elif kind == "affine":
            _affine(graph, node)
        elif kind == "add":
            _add(graph, node)
        elif kind == "pwl":
            _pwl(graph, node)
        elif kind == "maxpool":
            _maxpool(graph, node)
        elif kind == "avgpool":
            node.attrs["fx2"] = _rescale(graph, node, float(node.attrs["k"] ** 2), wide=True)
        elif kind == "gap":
            _, h, w = graph.node(node.inputs[0]).shape
            node.attrs["fx2"] = _rescale(graph, node, float(h * w), wide=True)
        elif kind == "requant":
            node.attrs["fx"] = _rescale(graph, node, 1.0, wide=False)
        elif kind == "sign":
            s_in = _scale_of(graph, node.inputs[0], node)
            node.attrs["t_q"] = _int_threshold(node.attrs["t"], s_in)
        elif kind in ("flatten", "normalize", "input", "maxpool_packed", "concat",
                      "channel_shuffle"):
            continue
        else:
            raise node.error(f"no int8 lowering for {kind!r}")
