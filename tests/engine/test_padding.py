"""Asymmetric padding ``[top, left, bottom, right]`` (TensorFlow SAME; docs/format.md, Padding)
in every windowed op of the engine vs the numpy reference, on every ISA and thread count: each
case is a one-op graph (``graph.examples.op_case``) run by the native executor, the op's
output compared with the reference's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.format import dumps
from bnnflow.graph.examples import op_case, random_input
from bnnflow.graph.padding import tf_same_padding
from bnnflow.reference.interpreter import run_all
from engine.op_check import check_op

POOLS = ["maxpool_packed", "maxpool_int8", "sumpool_int8", "maxpool_f32", "avgpool_f32"]
CONVS = ["bconv", "conv2d_int8", "dwconv2d_int8", "conv2d_f32"]


@st.composite
def cases(draw, op_type: str):
    """op_case options with four independent sides (each <= kernel/2 for pools, <= 3 for
    convs), a kernel that fits, and the op's own options."""
    pool = op_type in POOLS
    k = draw(st.integers(1, 4 if pool else 5))
    hi = k // 2 if pool else 3
    top, left, bottom, right = (draw(st.integers(0, hi)) for _ in range(4))
    opts = {"kernel": k, "stride": draw(st.integers(1, 3)),
            "padding": [top, left, bottom, right],
            "h": draw(st.integers(max(1, k - top - bottom), 11)),
            "w": draw(st.integers(max(1, k - left - right), 11))}
    if op_type == "bconv":
        opts["pad_mode"] = draw(st.sampled_from(["zero", "one"]))
        opts["epilogue"] = draw(st.sampled_from(["int32", "int8", "packed"]))
        opts["c"] = draw(st.sampled_from([6, 40, 70]))
        opts["cout"] = draw(st.sampled_from([6, 24, 70]))
    elif op_type in ("conv2d_int8", "dwconv2d_int8"):
        opts["input_dtype"] = draw(st.sampled_from(["uint8", "int8"]))
        opts["c"] = draw(st.sampled_from([3, 8, 20]))
        opts["cout"] = draw(st.sampled_from([5, 64, 70]))
    elif op_type == "conv2d_f32":
        opts["c"] = draw(st.sampled_from([3, 8, 20]))
        opts["cout"] = draw(st.sampled_from([5, 40]))
    else:
        opts["c"] = draw(st.sampled_from([5, 40, 70]))
    return opts


def check_case(op_type: str, opts: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    graph, tensors = op_case(op_type, rng, **opts)
    data = dumps(graph, tensors)
    x = random_input(rng, graph, 2)
    check_op(lambda isa, threads: _engine.NativeModel.from_bytes(data, threads, isa)
             .run_all(x)["op"],
             lambda: run_all(graph, tensors, x)["op"])


@pytest.mark.parametrize("op_type", POOLS + CONVS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_asymmetric_padding_matches_reference(op_type: str, data, seed: int) -> None:
    check_case(op_type, data.draw(cases(op_type)), seed)


@pytest.mark.parametrize("op_type", POOLS + CONVS)
def test_tf_same_padding_stride_2(op_type: str) -> None:
    """The case TF SAME padding produces at stride 2 on an even input: the extra row and column
    at the bottom and right ([0, 0, 1, 1] for a 3x3 kernel)."""
    padding = tf_same_padding(8, 10, 3, 3, 2)
    assert padding == [0, 0, 1, 1]
    opts = {"kernel": 3, "stride": 2, "padding": padding, "h": 8, "w": 10}
    if op_type == "bconv":
        for mode in ("zero", "one"):
            check_case(op_type, {**opts, "pad_mode": mode, "c": 40}, 1)
        return
    check_case(op_type, opts, 1)
