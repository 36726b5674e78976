import numpy as np

from bnnflow.convert.passes import fuse_activation

from .lg import bconv, graph, node


def _relu(src):
    z, o = np.zeros(4), np.ones(4)
    return node("r", "pwl", [src], (4, 4, 4), relu=True, t=z, kp=o, bp=z, kn=z, bn=z)


def test_relu_after_bconv_becomes_clamp():
    g = graph(node("x", "input", [], (4, 4, 4)), bconv("b", "x", 4, 4, alpha=[1, 2, 0, 3]),
              _relu("b"), node("bn", "affine", ["r"], (4, 4, 4)))
    fuse_activation.run(g)
    assert g.node("b").attrs["clamp_lo"] == 0 and g.node("bn").inputs == ["b"]
    assert "r" not in [n.name for n in g.nodes]


def test_negative_scale_or_shared_output_keeps_relu():
    g = graph(node("x", "input", [], (4, 4, 4)), bconv("b", "x", 4, 4, alpha=[1, -2, 1, 1]),
              _relu("b"))
    fuse_activation.run(g)
    assert g.node("r") and "clamp_lo" not in g.node("b").attrs
    g = graph(node("x", "input", [], (4, 4, 4)), bconv("b", "x", 4, 4), _relu("b"),
              node("a", "add", ["r", "b"], (4, 4, 4)))
    fuse_activation.run(g)
    assert g.node("r").inputs == ["b"]
