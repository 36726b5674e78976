"""fold_sign: the packed-epilogue threshold equals the float sign on every reachable d."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.convert.passes import fold_bn, fold_sign
from bnnflow.convert.passes.fold_sign import INT32_MAX, INT32_MIN, thresholds

from .lg import bconv, graph, node

F = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(F, F, F), min_size=1, max_size=6), st.integers(-40, 0),
       st.integers(0, 40))
def test_thresholds_match_float_sign(abt, lo, hi):
    a, b, t = (np.array(v, np.float64) for v in zip(*abt, strict=True))
    a = np.where(np.abs(a) < 1e-3, 0.0, a)
    T, flip = thresholds(a, b, t, lo, hi)
    d = np.arange(lo - 5, hi + 6)
    for c in range(a.size):
        want = a[c] * np.clip(d, lo, hi) + b[c] < t[c]
        dd = -d if flip[c] else d
        got = dd < T[c]
        assert np.array_equal(got, want), (c, T[c], flip[c])
        if T[c] not in (INT32_MIN, INT32_MAX):
            lo_c, hi_c = (-hi, -lo) if flip[c] else (lo, hi)
            assert lo_c < T[c] <= hi_c


def test_fold_into_packed_epilogue():
    g = graph(node("x", "input", [], (3, 4, 4)), bconv("c", "x", 2, 3, alpha=[1.0, 1.0]),
              node("bn", "affine", ["c"], (2, 4, 4), a=np.array([2.0, -1.0]),
                   b=np.array([1.0, 0.0])),
              node("s", "sign", ["bn"], (2, 4, 4), t=np.array([0.0, 0.5])),
              bconv("n", "s", 4, 2, groups=2))
    fold_bn.run(g)
    fold_sign.run(g)
    c = g.node("c")
    assert c.attrs["epilogue"] == "packed" and c.attrs["out_groups"] == 2
    assert g.node("n").inputs == ["c"]
    assert c.attrs["flip"].tolist() == [False, True]
    assert c.attrs["T"].tolist() == [0, 1]  # 2d+1 < 0 ⇔ d < 0 (ceil(-0.5)); -d < 0.5 → 1


def test_not_folded_with_other_readers_or_mixed_groups():
    def build(second_groups):
        return graph(node("x", "input", [], (3, 4, 4)), bconv("c", "x", 4, 3),
                     node("s", "sign", ["c"], (4, 4, 4), t=np.zeros(4)),
                     bconv("n1", "s", 4, 4, groups=1), bconv("n2", "s", 4, 4,
                                                            groups=second_groups))
    g = build(2)
    fold_bn.run(g)
    fold_sign.run(g)
    assert g.node("s").kind == "sign"
    g = build(1)
    g.nodes.append(node("p", "gap", ["c"], (4, 1, 1)))
    fold_bn.run(g)
    fold_sign.run(g)
    assert g.node("s").kind == "sign"
