"""fixed_point: integer params of each node kind reproduce the real rescale."""

import numpy as np
import pytest

from bnnflow.convert import ConversionError
from bnnflow.convert.passes import fixed_point
from bnnflow.reference import int8_ops

from .lg import bconv, graph, node

Q = np.arange(-128, 128)


def _real(m, b, q):
    return np.clip(np.floor(m * q + b + 0.5), -128, 127)


def test_bconv_int8_epilogue_and_clip_check():
    b = bconv("c", "x", 2, 3, clip=True)
    b.attrs.update(out_a=np.array([0.3, -0.05]), out_b=np.array([1.0, -2.0]), S=0.25)
    g = graph(node("x", "input", [], (3, 4, 4)), b, node("p", "gap", ["c"], (2, 1, 1), S=0.5),
              node("fc", "linear", ["p"], (3,)))
    g.node("fc").attrs.update(out_a=np.ones(3), out_b=np.zeros(3), sw=np.ones(3),
                              qweight=np.ones((3, 2), np.int8))
    fixed_point.run(g)
    fx = b.attrs["fx"]
    assert b.attrs["epilogue"] == "int8"
    for ch in range(2):
        got = int8_ops.requant(Q[:, None].repeat(2, 1), fx["M"], fx["B"], fx["s"])[:, ch]
        want = _real(b.attrs["out_a"][ch] / 0.25, b.attrs["out_b"][ch] / 0.25, Q)
        assert np.mean(got != want) < 0.01 and np.all(np.abs(got - want) <= 1)
    p = g.node("p").attrs["fx2"]
    assert p["M"].dtype == np.int32 and p["B"].dtype == np.int64
    np.testing.assert_allclose(p["M"] * 2.0 ** -p["s"].astype(float), 0.25 / (16 * 0.5),
                               rtol=1e-8)
    np.testing.assert_allclose(g.node("fc").attrs["fx2"]["scale"], 0.5)
    b.attrs["clip"] = False
    del b.attrs["epilogue"]
    with pytest.raises(ConversionError, match="clip=False"):
        fixed_point.run(g)


def test_add_and_pwl():
    g = graph(node("x", "input", [], (2, 4, 4)),
              node("a", "maxpool", ["x"], (2, 4, 4), S=0.1),
              node("b", "maxpool", ["x"], (2, 4, 4), S=0.3),
              node("s", "add", ["a", "b"], (2, 4, 4), S=0.2),
              node("n", "pwl", ["s"], (2, 4, 4), S=0.15, t=np.array([0.0, 0.31]),
                   kp=np.array([1.0, 0.5]), bp=np.array([0.0, 0.1]),
                   kn=np.array([0.25, -0.2]), bn=np.array([0.0, 0.05])))
    g.node("x").attrs["S"] = 0.1  # pool a keeps its input's scale, pool b rescales
    fixed_point.run(g)
    assert "fx2" in g.node("b").attrs and "fx2" not in g.node("a").attrs
    np.testing.assert_allclose(g.node("b").attrs["fx2"]["M"] * 2.0 ** -g.node("b").attrs[
        "fx2"]["s"].astype(float), 1 / 3, rtol=1e-4)
    fx = g.node("s").attrs["fx"]
    np.testing.assert_allclose(fx["Ma"] * 2.0 ** -fx["s"].astype(float), 0.5, rtol=1e-4)
    np.testing.assert_allclose(fx["Mb"] * 2.0 ** -fx["s"].astype(float), 1.5, rtol=1e-4)
    pw = g.node("n").attrs["fx"]
    assert pw["t"].tolist() == [0, 2]  # ceil(0.31 / 0.2)
    x = np.repeat(Q[:, None], 2, 1)
    got = int8_ops.pwl_int8(x, pw["t"], pw["Mp"], pw["Bp"], pw["Mn"], pw["Bn"], pw["s"])
    v = x * 0.2
    at = g.node("n").attrs
    y = np.where(v >= at["t"], at["kp"] * v + at["bp"], at["kn"] * v + at["bn"]) / 0.15
    want = np.clip(np.floor(y + 0.5), -128, 127)
    assert np.all(np.abs(got - want) <= 1) and np.mean(got != want) < 0.01
