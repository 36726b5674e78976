"""Shape inference against an independent count of window positions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.graph import validate, words_per_group
from bnnflow.graph.examples import op_case


def _positions(size: int, k: int, s: int, p: int) -> int:
    """Number of window starts -p, -p+s, ... whose window ends inside size + p."""
    return len(range(-p, size + p - k + 1, s))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), k=st.integers(1, 5), s=st.integers(1, 3),
       p=st.integers(0, 2), g=st.sampled_from([1, 2, 3]), cg=st.integers(1, 40),
       mode=st.sampled_from(["zero", "one", "valid"]),
       epi=st.sampled_from(["int32", "float", "int8", "packed"]))
def test_bconv_shapes(h, w, k, s, p, g, cg, mode, epi) -> None:
    p = 0 if mode == "valid" else p
    if h + 2 * p < k or w + 2 * p < k:
        return
    cout = 3 * g
    graph, tensors = op_case("bconv", np.random.default_rng(0), h=h, w=w, c=cg * g, groups=g,
                             kernel=k, stride=s, padding=p, pad_mode=mode, epilogue=epi,
                             cout=cout, out_groups=g)
    info = validate(graph, tensors)["op"]
    ho, wo = _positions(h, k, s, p), _positions(w, k, s, p)
    last = g * words_per_group(cout, g) if epi == "packed" else cout
    assert info.shape == (-1, ho, wo, last)
    if epi == "packed":
        assert (info.channels, info.groups) == (cout, g)


@settings(max_examples=30, deadline=None)
@given(op=st.sampled_from(["maxpool_int8", "sumpool_int8", "maxpool_f32", "avgpool_f32",
                           "maxpool_packed"]),
       h=st.integers(2, 9), w=st.integers(2, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2))
def test_pool_shapes(op, h, w, k, s, p) -> None:
    if 2 * p > k or h + 2 * p < k or w + 2 * p < k:
        return
    graph, tensors = op_case(op, np.random.default_rng(0), h=h, w=w, c=5, kernel=k, stride=s,
                             padding=p)
    info = validate(graph, tensors)["op"]
    assert info.shape[1:3] == (_positions(h, k, s, p), _positions(w, k, s, p))


@settings(max_examples=20, deadline=None)
@given(c=st.integers(1, 100), g=st.sampled_from([1, 2, 4]))
def test_pack_shapes(c, g) -> None:
    c = c * g
    graph, tensors = op_case("pack", np.random.default_rng(0), c=c, groups=g)
    info = validate(graph, tensors)["op"]
    assert info.shape == (-1, 6, 5, g * (-(-(c // g) // 32)))


def test_other_shapes() -> None:
    rng = np.random.default_rng(0)
    cases = {
        "concat": ((-1, 6, 5, 18), {}),
        "flatten": ((-1, 150), {"c": 5}),
        "global_sumpool_int8": ((-1, 6), {}),
        "dwconv2d_int8": ((-1, 3, 3, 18), {"c": 6, "multiplier": 3, "stride": 2}),
        "conv2d_int8": ((-1, 4, 3, 5), {"padding": 0}),
        "dense_int8": ((-1, 6), {}),
        "bdense": ((-1, 2), {"c": 70, "epilogue": "packed", "cout": 40}),
    }
    for op_type, (shape, kw) in cases.items():
        graph, tensors = op_case(op_type, rng, **kw)
        assert validate(graph, tensors)["op"].shape == shape, op_type
