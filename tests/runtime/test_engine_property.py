"""Property test through the whole runtime stack: random geometry of the binary and window
ops, engine (every ISA) == reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import cpu
from bnnflow.graph.examples import op_case, random_input
from bnnflow.reference.interpreter import run_all
from bnnflow.runtime import Interpreter

ISAS = cpu.supported_isas()


def _check(graph, tensors, rng) -> None:
    x = random_input(rng, graph, 2)
    ref = run_all(graph, tensors, x)
    op = next(o for o in graph.ops if o.name == "op")
    for isa in ISAS:
        got = Interpreter.from_graph(graph, tensors, 2, isa=isa).run_op(
            "op", [ref[t] for t in op.inputs])
        want = ref["op"]
        assert got.dtype == want.dtype and got.shape == want.shape
        if want.dtype == np.float32 and op.type != "dequant":  # dequant: exact (numerics §5)
            # 1e-5 relative to the tensor's scale: a float sum over many taps that cancels to a
            # small value keeps the rounding error of its large terms (as tests/convert does)
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale, err_msg=isa)
        else:
            np.testing.assert_array_equal(got, want, err_msg=isa)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), cg=st.integers(1, 70), g=st.integers(1, 3),
       k=st.sampled_from([1, 3, 5]), s=st.integers(1, 2), p=st.integers(0, 2),
       mode=st.sampled_from(["zero", "one", "valid"]),
       epi=st.sampled_from(["int32", "float", "int8", "packed"]), cout_g=st.integers(1, 20),
       seed=st.integers(0, 2**16))
def test_bconv_random_geometry(h, w, cg, g, k, s, p, mode, epi, cout_g, seed) -> None:
    p = 0 if mode == "valid" else p
    if h + 2 * p < k or w + 2 * p < k:
        return
    cout = cout_g * g
    rng = np.random.default_rng(seed)
    graph, tensors = op_case("bconv", rng, h=h, w=w, c=cg * g, groups=g, kernel=k, stride=s,
                             padding=p, pad_mode=mode, epilogue=epi, cout=cout,
                             out_groups=g if cout % g == 0 else 1)
    _check(graph, tensors, rng)


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from(["maxpool_packed", "maxpool_int8", "sumpool_int8", "maxpool_f32",
                           "avgpool_f32", "conv2d_int8", "dwconv2d_int8", "conv2d_f32"]),
       h=st.integers(2, 9), w=st.integers(2, 9), c=st.integers(1, 40), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_window_ops_random_geometry(op, h, w, c, k, s, p, seed) -> None:
    if 2 * p > k or h + 2 * p < k or w + 2 * p < k:
        return
    rng = np.random.default_rng(seed)
    graph, tensors = op_case(op, rng, h=h, w=w, c=c, kernel=k, stride=s, padding=p)
    _check(graph, tensors, rng)
