"""MAC and parameter counts."""

from __future__ import annotations

import numpy as np

from bnnflow.graph import SCHEMAS, op_cost, validate
from bnnflow.graph.examples import op_case


def _cost(op_type: str, **kw):
    graph, tensors = op_case(op_type, np.random.default_rng(0), **kw)
    infos = validate(graph, tensors)
    op = next(o for o in graph.ops if o.name == "op")
    params = {r: tensors[n] for r, n in op.params.items()}
    return op_cost(op, [infos[i] for i in op.inputs], infos["op"], params)


def test_bconv_counts() -> None:
    c = _cost("bconv", h=6, w=5, c=40, groups=2, cout=8, kernel=3, stride=1, padding=1,
              epilogue="int8")
    assert c.binary_macs == 6 * 5 * 8 * 9 * 20
    assert c.params["binary"] == 8 * 9 * 20
    assert c.params["int32"] == 8 + 8 and c.params["int8"] == 8  # M, B (int32 class), s
    assert c.int8_macs == c.float_macs == 0


def test_int8_and_float_counts() -> None:
    c = _cost("conv2d_int8", h=6, w=5, c=3, cout=4, kernel=3, padding=1)
    assert c.int8_macs == 6 * 5 * 4 * 9 * 3
    assert c.params["int8"] == 4 * 9 * 3
    c = _cost("dwconv2d_int8", h=6, w=5, c=3, multiplier=2, kernel=3, padding=1)
    assert c.int8_macs == 6 * 5 * 6 * 9
    c = _cost("dense_f32", c=10, cout=3)
    assert c.float_macs == 30 and c.params["float32"] == 33
    c = _cost("bdense", c=70, cout=5)
    assert c.binary_macs == 350
    assert c.param_bytes() == -(-350 // 8)


def test_every_schema_declares_mac_kind() -> None:
    kinds = {s.macs for s in SCHEMAS.values()}
    assert kinds <= {"binary", "int8", "float", "none"}
