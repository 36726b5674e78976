"""Pass: choose layouts — NHWC weights, flatten order, pack groups; check binary inputs.

- ``conv`` weights ``[O, I/g, KH, KW]`` → ``[O, KH, KW, Cin]`` (NHWC, numerics.md §5): a
  depthwise int8 conv (``groups = Cin``) keeps ``[O, KH, KW]`` for ``dwconv2d_int8``; any other
  grouped conv becomes block-diagonal (zeros outside its group: exact). In the float data-flow
  the folded affine ``out_a`` multiplies the weights (``conv2d_f32`` has a bias only).
- ``linear`` / ``blinear`` after ``flatten`` of ``[C, H, W]``: PyTorch flattens in ``c,h,w``
  order, the engine in ``h,w,c`` order; the weight columns are permuted to match.
- every ``sign`` packs for the group count of its binary readers (through packed max pools;
  a sign read by binary layers with different group counts is duplicated, one per count);
  its readers must be binary layers or packed max pools.
- every binary layer must read packed bits (a ``sign``, a packed max pool or a
  packed-epilogue binary layer):
  otherwise :class:`~bnnflow.convert.ConversionError` ("input is not binarized").
"""

from __future__ import annotations

import numpy as np

from bnnflow.convert.lgraph import LGraph, LNode
from bnnflow.convert.passes import fold_sign


def nhwc_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """``[O, I/g, KH, KW]`` → dense ``[O, KH, KW, I]`` (block-diagonal for ``groups > 1``)."""
    o, ig, kh, kw = w.shape
    og = o // groups
    out = np.zeros((o, kh, kw, ig * groups), dtype=w.dtype)
    for g in range(groups):
        block = w[g * og:(g + 1) * og].transpose(0, 2, 3, 1)
        out[g * og:(g + 1) * og, :, :, g * ig:(g + 1) * ig] = block
    return out


def flatten_permutation(c: int, h: int, w: int) -> np.ndarray:
    """Index array ``p`` with ``nhwc_flat[j] = nchw_flat[p[j]]``."""
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)


def _flatten_source(graph: LGraph, node: LNode) -> LNode | None:
    """The ``flatten`` node feeding a (binary) linear layer directly or through its sign."""
    src = graph.node(node.inputs[0])
    if src.kind == "sign":
        src = graph.node(src.inputs[0])
    return src if src.kind == "flatten" else None


def _linear_perm(graph: LGraph, node: LNode) -> np.ndarray | None:
    flat = _flatten_source(graph, node)
    if flat is None:
        return None
    shape = graph.node(flat.inputs[0]).shape
    if len(shape) != 3 or shape[1:] == (1, 1):
        return None
    return flatten_permutation(*shape)


def _conv(node: LNode, dataflow: str) -> None:
    at = node.attrs
    if dataflow == "int8":
        q, g = at["qweight"], at["groups"]
        cin = q.shape[1] * g
        if g > 1 and g == cin:
            at["dw"] = True
            at["w8"] = q[:, 0].copy()
        else:
            at["dw"] = False
            at["w8"] = nhwc_weights(q, g)
        return
    w = at["weight"] * at["out_a"].reshape(-1, 1, 1, 1)
    at["wf"] = nhwc_weights(w, at["groups"]).astype(np.float32)


def _linear(graph: LGraph, node: LNode, dataflow: str) -> None:
    perm = _linear_perm(graph, node)
    at = node.attrs
    if node.kind == "blinear":
        if perm is not None:
            at["weight_sign"] = at["weight_sign"][:, perm]
        return
    if dataflow == "int8":
        at["w8"] = at["qweight"] if perm is None else at["qweight"][:, perm]
        return
    w = at["weight"] * at["out_a"].reshape(-1, 1)
    at["wf"] = (w if perm is None else w[:, perm]).astype(np.float32)


def _reader_groups(graph: LGraph, sign: LNode, user: LNode) -> int:
    if user.kind == "bconv":
        return user.attrs["groups"]
    if user.kind == "blinear":
        return 1
    if user.kind == "maxpool_packed":
        g = fold_sign.binary_groups(graph, user)
        if g is not None:
            return g
        if graph.is_output(user.name):
            raise user.error("a binarized tensor must be read by binary layers only")
        for reader in graph.consumers(user.name):
            _reader_groups(graph, user, reader)  # names a reader that is not binary
        raise user.error("a max pool of binarized data must be read by binary layers that "
                         "pack for one group count")
    raise sign.error(f"the binarized tensor is read by {user.attrs.get('op', user.kind)} "
                     f"{user.module!r}, which is not a binary layer")


def check_sign_readers(graph: LGraph) -> None:
    """Every ``sign`` (binarized tensor) is read only by binary layers or packed max pools:
    otherwise a :class:`~bnnflow.convert.ConversionError` naming the sign and the reader. Run
    before the int8 passes too, so that a real layer reading bits is told why (it would
    otherwise only see that its input has no int8 scale)."""
    for sign in graph:
        if sign.kind != "sign":
            continue
        users = graph.consumers(sign.name)
        if graph.is_output(sign.name) or not users:
            raise sign.error("a binarized tensor must be read by binary layers only")
        for u in users:
            _reader_groups(graph, sign, u)


def _split_signs(graph: LGraph) -> None:
    for sign in graph:
        if sign.kind != "sign":
            continue
        users = graph.consumers(sign.name)
        if graph.is_output(sign.name) or not users:
            raise sign.error("a binarized tensor must be read by binary layers only")
        by_groups: dict[int, list[LNode]] = {}
        for u in users:
            by_groups.setdefault(_reader_groups(graph, sign, u), []).append(u)
        first, *rest = sorted(by_groups)
        sign.attrs["groups"] = first
        for g in rest:
            clone = LNode(graph.unique_name(f"{sign.name}.g{g}"), "sign", list(sign.inputs),
                          sign.module, sign.shape, {**sign.attrs, "groups": g})
            graph.insert_after(sign, clone)
            for u in by_groups[g]:
                u.inputs = [clone.name if i == sign.name else i for i in u.inputs]


def _check_binary_input(graph: LGraph, node: LNode) -> None:
    src = graph.node(node.inputs[0])
    if src.kind in ("sign", "maxpool_packed") or src.attrs.get("epilogue") == "packed":
        return
    raise node.error(f"its input ({src.attrs.get('op', src.kind)} {src.module or src.name!r}) "
                     "is not binarized: give the layer an input_quantizer or put a "
                     "SignActivation before it")


def run(graph: LGraph, dataflow: str) -> None:
    _split_signs(graph)
    for node in graph:
        if node.kind == "conv":
            _conv(node, dataflow)
        elif node.kind in ("linear", "blinear"):
            _linear(graph, node, dataflow)
        if node.kind in ("bconv", "blinear"):
            _check_binary_input(graph, node)
        elif node.kind == "maxpool_packed":
            for user in graph.consumers(node.name):
                _reader_groups(graph, node, user)
