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


def _cat_graph(*, point: bool, s_b: float = 0.25) -> object:
    """conv (S 0.5) and add (no Int8Point) and conv (S s_b) → concat [→ int8point 0.125]."""
    nodes = [node("x", "input", [], (2, 4, 4)), node("n", "normalize", ["x"], (2, 4, 4)),
             node("c", "conv", ["n"], (2, 4, 4)),
             node("q", "int8point", ["c"], (2, 4, 4), S=0.5),
             node("d", "conv", ["q"], (2, 4, 4)),
             node("qd", "int8point", ["d"], (2, 4, 4), S=s_b),
             node("a", "add", ["q", "qd"], (2, 4, 4)),
             node("cat", "concat", ["a", "q", "qd"], (6, 4, 4))]
    if point:
        nodes.append(node("qc", "int8point", ["cat"], (6, 4, 4), S=0.125))
    nodes.append(node("g", "gap", [nodes[-1].name], (6, 1, 1)))
    return graph(*nodes)


def test_concat_with_an_int8point():
    """The Int8Point after a concat: its scale goes to the unscaled input read only by the
    concat (the add writes at it); inputs of other scales get a requant to it."""
    g = _cat_graph(point=True)
    assign_scales.run(g)
    cat = g.node("cat")
    assert cat.attrs["S"] == 0.125 and g.node("a").attrs["S"] == 0.125
    assert "S_from" not in g.node("a").attrs
    assert cat.inputs[0] == "a"
    for i, src in ((1, "c"), (2, "d")):
        req = g.node(cat.inputs[i])
        assert req.kind == "requant" and req.inputs == [src] and req.attrs["S"] == 0.125
    names = [n.name for n in g.nodes]
    assert names.index(cat.inputs[2]) < names.index("cat")


def test_concat_without_an_int8point():
    g = _cat_graph(point=False, s_b=0.5)
    g.nodes.remove(g.node("a"))
    g.node("cat").inputs = ["q", "qd", "q"]
    assign_scales.run(g)
    assert g.node("cat").attrs["S"] == 0.5 and g.node("cat").inputs == ["c", "d", "c"]
    g = _cat_graph(point=False, s_b=0.25)
    g.nodes.remove(g.node("a"))
    g.node("cat").inputs = ["q", "qd"]
    with pytest.raises(ConversionError, match=r"torch\.cat of int8 tensors of different sc"):
        assign_scales.run(g)
