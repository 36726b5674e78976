"""bnnflow.bench.models: names, float twins (same shapes, no binary layers), export."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from bnnflow.bench.layers import model_layers  # noqa: E402
from bnnflow.bench.models import (  # noqa: E402
    BENCH_MODELS,
    PEER_COUNTERPARTS,
    PUBLISHED_TOP1,
    build_model,
    check_model_name,
    export_bench_model,
    float_twin,
)
from bnnflow.bench.peers import PEERS  # noqa: E402
from bnnflow.nn import BinaryConv2d, Int8Point  # noqa: E402


def test_names() -> None:
    assert check_model_name("quicknet") == "quicknet"
    with pytest.raises(ValueError, match="choose from"):
        check_model_name("resnet18")
    for model in BENCH_MODELS:
        assert model in PUBLISHED_TOP1
        for peer, peer_model in PEER_COUNTERPARTS[model].items():
            assert peer_model in PEERS[peer].models


@pytest.mark.parametrize("name", ["birealnet_small", "ftbnn_small"])
def test_float_twin_same_shapes_real_convs(name: str) -> None:
    twin = float_twin(name, in_channels=1)
    assert not any(isinstance(m, (BinaryConv2d, Int8Point)) for m in twin.modules())
    ours = model_layers(build_model(name, in_channels=1), (1, 8, 8))
    theirs = model_layers(twin, (1, 8, 8))
    strip = [r["signature"][:6] for r in ours]  # all but binary-or-real
    assert strip == [r["signature"][:6] for r in theirs]
    assert any(r["signature"][6] for r in ours) and not any(r["signature"][6] for r in theirs)
    with torch.no_grad():
        assert twin(torch.rand(2, 1, 8, 8) * 255).shape == (2, 10)


def test_export_rejects_unknown_dataflow(tmp_path) -> None:
    with pytest.raises(ValueError, match="dataflow"):
        export_bench_model("birealnet_small", "int4", tmp_path / "x.bnn")


def test_export_int8_is_integer_only(tmp_path) -> None:
    from bnnflow.format import read

    path = export_bench_model("birealnet_small", "int8", tmp_path / "m.bnn", size=8)
    graph = read(path).graph
    assert graph.dataflow == "int8" and graph.input_spec.dtype == "uint8"
    assert not [o.type for o in graph.ops if o.type.endswith("f32")]
