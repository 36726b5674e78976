import pytest

from bnnflow.convert import ConversionError
from bnnflow.convert.passes import assign_scales

from .lg import graph, node


def test_int8points_are_absorbed_and_scales_pass_through():
    g = graph(node("x", "input", [], (2, 4, 4)), node("n", "normalize", ["x"], (2, 4, 4)),
              node("c", "conv", ["n"], (2, 4, 4)),
              node("q1", "int8point", ["c"], (2, 4, 4), S=0.5),
              node("q2", "int8point", ["q1"], (2, 4, 4), S=0.25),
              node("m", "maxpool", ["q2"], (2, 2, 2)),
              node("f", "flatten", ["m"], (8,)), node("fc", "linear", ["f"], (3,)))
    assign_scales.run(g)
    assert g.node("c").attrs["S"] == 0.5 and g.node("c").attrs["S_from"] == "q1"
    assert g.node("q2").kind == "requant" and g.node("q2").inputs == ["c"]
    assert g.node("m").attrs["S"] == 0.25 and g.node("f").attrs["S"] == 0.25
    assert "S" not in g.node("fc").attrs  # logits


def test_missing_int8point():
    g = graph(node("x", "input", [], (2, 4, 4)), node("n", "normalize", ["x"], (2, 4, 4)),
              node("c", "conv", ["n"], (2, 4, 4)),
              node("q", "int8point", ["c"], (2, 4, 4), S=0.5),
              node("a", "affine", ["q"], (2, 4, 4)), node("g", "gap", ["a"], (2, 1, 1)),
              node("fc", "linear", ["g"], (3,)))
    with pytest.raises(ConversionError, match="needs an Int8Point"):
        assign_scales.run(g)


def test_int8point_on_the_input():
    g = graph(node("x", "input", [], (2, 4, 4)), node("n", "normalize", ["x"], (2, 4, 4)),
              node("q", "int8point", ["n"], (2, 4, 4), S=0.5))
    with pytest.raises(ConversionError, match="not supported"):
        assign_scales.run(g)
