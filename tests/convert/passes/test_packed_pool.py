import numpy as np
import pytest

from bnnflow.convert import ConversionError
from bnnflow.convert.passes import layouts, packed_pool

from .lg import bconv, graph, node


def _g(reader_groups=(2,)):
    nodes = [node("x", "input", [], (4, 4, 4)), node("q", "maxpool", ["x"], (4, 4, 4), k=2, s=2,
                                                      p=0),
             node("s", "sign", ["q"], (4, 4, 4), t=np.zeros(4)),
             node("m", "maxpool", ["s"], (4, 2, 2), k=2, s=2, p=0)]
    nodes += [bconv(f"b{i}", "m", 4, 4, groups=g, hw=2) for i, g in enumerate(reader_groups)]
    return graph(*nodes)


def test_only_pools_of_bits_become_packed():
    g = _g()
    packed_pool.run(g)
    assert g.node("q").kind == "maxpool" and g.node("m").kind == "maxpool_packed"
    layouts.run(g, "float")
    assert g.node("s").attrs["groups"] == 2  # packs for the bconv behind the pool


def test_readers_behind_the_pool_must_agree():
    g = _g((1, 2))
    packed_pool.run(g)
    with pytest.raises(ConversionError, match="one group count"):
        layouts.run(g, "float")
