import numpy as np

from bnnflow.convert.passes import fold_bn

from .lg import bconv, graph, node


def test_bn_folds_into_binary_scale():
    a, b = np.array([2.0, -1.0]), np.array([0.5, 3.0])
    g = graph(node("x", "input", [], (3, 4, 4)), bconv("c", "x", 2, 3, alpha=[0.5, 4.0]),
              node("bn", "affine", ["c"], (2, 4, 4), a=a, b=b),
              node("bn2", "affine", ["bn"], (2, 4, 4), a=np.array([3.0, 1.0]),
                   b=np.array([1.0, 0.0])))
    fold_bn.run(g)
    assert [n.name for n in g.nodes] == ["x", "c"]
    np.testing.assert_allclose(g.node("c").attrs["out_a"], [3.0, -4.0])  # 3·2·0.5, 1·-1·4
    np.testing.assert_allclose(g.node("c").attrs["out_b"], [2.5, 3.0])   # 3·0.5+1, 3
    assert g.output == "c"


def test_conv_bias_and_shared_producer():
    g = graph(node("x", "input", [], (3, 4, 4)),
              node("c", "conv", ["x"], (2, 4, 4), bias=np.array([1.0, 2.0])),
              node("bn", "affine", ["c"], (2, 4, 4), a=np.array([2.0, 2.0]), b=np.ones(2)),
              node("other", "gap", ["c"], (2, 1, 1)),
              node("add", "add", ["bn", "c"], (2, 4, 4)))
    fold_bn.run(g)
    assert g.node("bn").kind == "affine"  # c has other readers: BN stays standalone
    np.testing.assert_allclose(g.node("c").attrs["out_b"], [1.0, 2.0])
    np.testing.assert_allclose(g.node("c").attrs["out_a"], [1.0, 1.0])


def test_standalone_affines_merge():
    g = graph(node("x", "input", [], (2, 4, 4)), node("p", "maxpool", ["x"], (2, 2, 2)),
              node("bn", "affine", ["p"], (2, 2, 2), a=np.array([2.0, 1.0]), b=np.zeros(2)),
              node("bn2", "affine", ["bn"], (2, 2, 2), a=np.array([3.0, 1.0]), b=np.ones(2)))
    fold_bn.run(g)
    assert [n.name for n in g.nodes] == ["x", "p", "bn"]
    np.testing.assert_allclose(g.node("bn").attrs["a"], [6.0, 1.0])
    np.testing.assert_allclose(g.node("bn").attrs["b"], [1.0, 1.0])
