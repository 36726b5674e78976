from bnnflow.convert.passes import drop_identity

from .lg import graph, node


def test_identity_goes_and_readers_are_rewired():
    g = graph(node("x", "input", [], (3, 4, 4)), node("id", "identity", ["x"], (3, 4, 4)),
              node("q", "int8point", ["id"], (3, 4, 4)), node("p", "gap", ["q"], (3, 1, 1)))
    drop_identity.run(g)
    assert [n.name for n in g.nodes] == ["x", "q", "p"] and g.node("q").inputs == ["x"]
    drop_identity.run(g, ("identity", "int8point"))
    assert [n.name for n in g.nodes] == ["x", "p"] and g.node("p").inputs == ["x"]


def test_output_is_rewired():
    g = graph(node("x", "input", [], (3,)), node("d", "identity", ["x"], (3,)))
    drop_identity.run(g)
    assert g.output == "x"
