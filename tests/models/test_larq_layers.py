"""Layer for layer: bnnflow's Bi-Real-Net-18 and QuickNet against larq-zoo's (checked-in
layer table, benchmarks/data/larq_zoo_layers.json): kernel, stride, channels, output size and
binary-or-real of every convolution and dense layer, in order, and the MAC totals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnnflow.bench.layers import larq_layers, layer_macs, model_layers, side_by_side
from bnnflow.bench.peers import conv_signature, load_layer_table
from bnnflow.models import birealnet18, quicknet

REPO = Path(__file__).resolve().parents[2]
PAIRS = {"birealnet": birealnet18, "quicknet": quicknet}


@pytest.fixture(scope="module")
def table() -> dict:
    return load_layer_table(REPO)


@pytest.fixture(scope="module", params=sorted(PAIRS))
def pair(request: pytest.FixtureRequest, table: dict) -> tuple[str, list[dict], list[dict]]:
    name = request.param
    return name, larq_layers(table, name), model_layers(PAIRS[name]())


def test_same_layers_in_the_same_order(pair: tuple[str, list[dict], list[dict]]) -> None:
    name, larq, ours = pair
    theirs = [r["signature"] for r in larq]
    mine = [r["signature"] for r in ours]
    assert len(mine) == len(theirs), name
    for i, (a, b) in enumerate(zip(theirs, mine, strict=True)):
        where = f"{name} layer {i}: larq-zoo {larq[i]['name']}, bnnflow {ours[i]['name']}"
        assert a == b, where


def test_same_macs(pair: tuple[str, list[dict], list[dict]], table: dict) -> None:
    name, larq, ours = pair
    assert [r["macs"] for r in ours] == [r["macs"] for r in larq]
    binary = sum(r["macs"] for r in ours if r["signature"][6])
    real = sum(r["macs"] for r in ours if not r["signature"][6])
    assert binary == table["models"][name]["binary_macs"]
    assert real == table["models"][name]["real_macs"]


def test_a_changed_model_is_caught(table: dict) -> None:
    """The comparison is not vacuous: a Bi-Real-Net with the stem's stride changed differs,
    and so do the two models from each other."""
    model = birealnet18()
    model.stem.conv.stride = (1, 1)
    mine = [r["signature"] for r in model_layers(model)]
    theirs = conv_signature(table, "birealnet")
    assert len(mine) == len(theirs)
    assert mine[0] != theirs[0] and mine[-2] != theirs[-2]
    assert [r["signature"] for r in model_layers(quicknet())] != theirs


def test_layer_macs_formula() -> None:
    assert layer_macs(("conv", (3, 3), (1, 1), 64, 64, (56, 56), True)) == 56 * 56 * 64 * 9 * 64
    assert layer_macs(("depthwise", (3, 3), (2, 2), 16, 16, (56, 56), False)) == 56 * 56 * 16 * 9
    assert layer_macs(("conv", (3, 3), (1, 1), 64, 64, (2, 2), True), groups=4) == 4 * 64 * 9 * 16
    assert layer_macs(("dense", None, None, 512, 1000, None, False)) == 512_000


def test_side_by_side_marks_differences(pair: tuple[str, list[dict], list[dict]]) -> None:
    _, larq, ours = pair
    text = side_by_side(larq, ours)
    assert "**no**" not in text
    assert text.count("| yes |") == len(larq)
    broken = side_by_side(larq, ours[:-1])
    assert broken.count("**no**") == 1
