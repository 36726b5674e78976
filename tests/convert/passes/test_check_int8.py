import pytest

from bnnflow.convert import ConversionError
from bnnflow.convert.passes import check_int8

from .lg import graph, node


def _g(mode="frozen", observed=3, qweight=1, qmode="frozen", norm=True):
    first = node("n", "normalize", ["x"], (1, 4, 4)) if norm else node("n", "gap", ["x"],
                                                                        (1, 1, 1))
    return graph(node("x", "input", [], (1, 4, 4)), first,
                 node("c", "conv", ["n"], (2, 4, 4), qweight=qweight, qmode=qmode),
                 node("q", "int8point", ["c"], (2, 4, 4), mode=mode, observed=observed))


def test_stage2_passes():
    check_int8.run(_g())


@pytest.mark.parametrize("kw, text", [
    ({"mode": "disabled"}, "stage-1"), ({"observed": 0}, "never calibrated"),
    ({"qweight": None}, "QConv2d"), ({"qmode": "disabled"}, "fake-quant is disabled"),
    ({"norm": False}, "InputNormalize"),
])
def test_rejections(kw, text):
    with pytest.raises(ConversionError, match=text):
        check_int8.run(_g(**kw))
