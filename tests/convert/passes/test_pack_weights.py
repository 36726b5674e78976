import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.convert.passes import pack_weights
from bnnflow.reference.pack import bits_to_words, unpack_bits

from .lg import bconv, graph, node


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 70), st.integers(1, 3), st.integers(0, 1000))
def test_pack_bits_matches_the_reference(c, lead, seed):
    bits = np.random.default_rng(seed).random((lead, 2, c)) < 0.5
    assert np.array_equal(pack_weights.pack_bits(bits), bits_to_words(bits))


def test_bconv_weights_layout_and_flip():
    b = bconv("c", "x", 4, 6, k=3, groups=2)
    b.attrs["flip"] = np.array([False, True, False, False])
    g = graph(node("x", "input", [], (6, 4, 4)), b)
    pack_weights.run(g)
    packed = g.node("c").attrs["packed"]
    assert packed.shape == (4, 3, 3, 1) and packed.dtype == np.uint32
    signs = 1 - 2 * unpack_bits(packed, 3).astype(np.int64)  # [O, kh, kw, Cg]
    want = b.attrs["weight_sign"].transpose(0, 2, 3, 1).astype(np.int64)
    want[1] *= -1
    assert np.array_equal(signs, want)
    assert np.all(packed >> 3 == 0)  # pad bits are 0


def test_blinear_weights():
    w = np.where(np.random.default_rng(1).random((3, 40)) < 0.5, -1, 1).astype(np.int8)
    g = graph(node("x", "input", [], (40,)),
              node("l", "blinear", ["x"], (3,), weight_sign=w, alpha=np.ones(3), clip=False))
    pack_weights.run(g)
    assert np.array_equal(unpack_bits(g.node("l").attrs["packed"], 40), w < 0)
