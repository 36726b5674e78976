import numpy as np
import pytest
import torch

from bnnflow.convert import ConversionError
from bnnflow.convert.passes import layouts

from .lg import bconv, graph, node


def test_grouped_conv_block_diagonal_matches_torch():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 2, 3, 3))
    x = rng.standard_normal((1, 4, 5, 5))
    dense = layouts.nhwc_weights(w, groups=2)  # [6, 3, 3, 4]
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), groups=2)
    got = torch.nn.functional.conv2d(torch.from_numpy(x),
                                     torch.from_numpy(dense.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


def test_flatten_permutation():
    x = np.arange(2 * 3 * 4).reshape(1, 2, 3, 4)
    p = layouts.flatten_permutation(2, 3, 4)
    assert np.array_equal(x.transpose(0, 2, 3, 1).reshape(-1), x.reshape(-1)[p])


def test_linear_after_flatten_is_permuted_and_depthwise_kept():
    w = np.random.default_rng(0).integers(-5, 5, (3, 8)).astype(np.int8)
    dw = np.ones((2, 1, 3, 3), np.int8)
    g = graph(node("x", "input", [], (2, 2, 2)),
              node("d", "conv", ["x"], (2, 2, 2), qweight=dw, groups=2),
              node("f", "flatten", ["d"], (8,)),
              node("fc", "linear", ["f"], (3,), qweight=w))
    layouts.run(g, "int8")
    assert g.node("d").attrs["dw"] and g.node("d").attrs["w8"].shape == (2, 3, 3)
    assert np.array_equal(g.node("fc").attrs["w8"], w[:, layouts.flatten_permutation(2, 2, 2)])


def test_sign_split_per_group_count_and_checks():
    g = graph(node("x", "input", [], (4, 4, 4)),
              node("s", "sign", ["x"], (4, 4, 4), t=np.zeros(4)),
              bconv("a", "s", 4, 4, groups=1), bconv("b", "s", 4, 4, groups=2))
    layouts.run(g, "float")
    assert g.node("s").attrs["groups"] == 1
    clone = g.node(g.node("b").inputs[0])
    assert clone.kind == "sign" and clone.attrs["groups"] == 2 and clone.inputs == ["x"]
    g = graph(node("x", "input", [], (4, 4, 4)), bconv("a", "x", 4, 4))
    with pytest.raises(ConversionError, match="not binarized"):
        layouts.run(g, "float")
