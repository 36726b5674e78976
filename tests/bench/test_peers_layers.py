"""Consistency of the checked-in larq-zoo layer tables (benchmarks/data/larq_zoo_layers.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnnflow.bench.peers import conv_signature, load_layer_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table() -> dict:
    return load_layer_table(REPO)


def recompute_macs(e: dict) -> int:
    if "kernel" not in e:
        return e["in_channels"] * e["out_channels"]
    h, w = e["out_hw"]
    kh, kw = e["kernel"]
    return h * w * e["out_channels"] * kh * kw * e["in_channels"] // e["groups"]


@pytest.mark.parametrize("model", ["birealnet", "quicknet"])
def test_totals_match_layers(table: dict, model: str) -> None:
    t = table["models"][model]
    compute = [e for e in t["layers"] if "macs" in e]
    for e in compute:
        assert e["macs"] == recompute_macs(e), e["name"]
    assert t["binary_macs"] == sum(e["macs"] for e in compute if e["binary"])
    assert t["real_macs"] == sum(e["macs"] for e in compute if not e["binary"])
    assert t["binary_convs"] == sum(e["binary"] for e in compute) == 16


@pytest.mark.parametrize("model", ["birealnet", "quicknet"])
def test_inputs_refer_to_earlier_layers(table: dict, model: str) -> None:
    seen: set[str] = set()
    for e in table["models"][model]["layers"]:
        assert set(e["inputs"]) <= seen, e["name"]
        seen.add(e["name"])


def test_birealnet_signature(table: dict) -> None:
    sig = conv_signature(table, "birealnet")
    assert sig[0] == ("conv", (7, 7), (2, 2), 3, 64, (112, 112), False)
    assert sig[-1] == ("dense", None, None, 512, 1000, None, False)
    binary = [s for s in sig if s[6]]
    # 4 stages x 4 binary 3x3 convs; the first of stages 2-4 has stride 2 and doubles width
    assert [(s[3], s[4], s[2]) for s in binary[3:6]] == [
        (64, 64, (1, 1)),
        (64, 128, (2, 2)),
        (128, 128, (1, 1)),
    ]
    assert all(s[1] == (3, 3) for s in binary)
    # real 1x1 shortcut convs after the 2x2 average pool
    assert [s[3:6] for s in sig if s[1] == (1, 1)] == [
        (64, 128, (28, 28)),
        (128, 256, (14, 14)),
        (256, 512, (7, 7)),
    ]


def test_quicknet_signature(table: dict) -> None:
    sig = conv_signature(table, "quicknet")
    assert sig[:3] == [
        ("conv", (3, 3), (2, 2), 3, 16, (112, 112), False),
        ("depthwise", (3, 3), (2, 2), 16, 16, (56, 56), False),
        ("conv", (1, 1), (1, 1), 16, 64, (56, 56), False),
    ]
    binary = [s for s in sig if s[6]]
    assert [s[4] for s in binary] == [64] * 4 + [128] * 4 + [256] * 4 + [512] * 4
    assert all(s[1] == (3, 3) and s[2] == (1, 1) for s in binary)
    pads = [e["pad_values"] for e in table["models"]["quicknet"]["layers"] if e.get("binary")]
    assert pads == [1.0] * 16


def test_unknown_model_is_rejected(table: dict) -> None:
    with pytest.raises(ValueError, match="'resnet'"):
        conv_signature(table, "resnet")
