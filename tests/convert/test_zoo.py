"""Every zoo configuration converted in both data-flows and run end to end on the engine:

- float data-flow: the engine's logits (every ISA) equal the reference's within 1e-5
  (numerics.md) and PyTorch's (Int8Points disabled) within the float tolerance of
  test_pipeline (1e-4 relative), same top-1;
- int8 data-flow (after ``enable_int8 → calibrate → freeze_int8``): the engine's logits on every
  ISA are bit-identical to the frozen model's eval forward (``bnnflow.nn.exact``), and every
  Int8Point tensor of that forward equals the reference's.

The small (8x8) and reduced-width configurations run by default; the full-width ResNet-18/34
models at 32x32 (CIFAR stems) and 64x64 (ImageNet stems) are ``slow``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from bnnflow import cpu
from bnnflow.convert import convert
from bnnflow.models import build
from bnnflow.runtime import Interpreter

from .helpers import (
    assert_engine_equals_reference,
    assert_int8_exact,
    compare_float,
    nhwc,
    randomize_,
    stage2_,
)

GROUPED = {"groups": 2, "width": 2.0, "binary_downsample": True}

FAST: list[tuple[str, dict[str, Any], tuple[int, int, int]]] = [
    ("ftbnn_small", GROUPED, (1, 8, 8)),
    ("ftbnn_small", {**GROUPED, "bias": True, "shuffle": True}, (1, 8, 8)),
    ("ftbnn_small", {"bias": True, "nonlinearity": "prelu", "position": "before_add"},
     (1, 8, 8)),
    ("ftbnn_small", {"bias": True, "nonlinearity": "none"}, (1, 8, 8)),
    ("reactnet_small", {}, (1, 8, 8)),
    ("reactnet_small", {"downsample": "concat"}, (1, 8, 8)),
    ("ftbnn34_cifar", {"groups": 2, "width": 0.25, "binary_downsample": True, "bias": True,
                       "shuffle": True}, (3, 16, 16)),
]
SLOW = [
    ("reactnet18_cifar", {}, (3, 32, 32)),
    ("reactnet18_cifar", {"downsample": "concat"}, (3, 32, 32)),
    ("reactnet18", {"downsample": "concat"}, (3, 64, 64)),
    ("birealnet34_cifar", {}, (3, 32, 32)),
    ("birealnet18_cifar", {}, (3, 32, 32)),
    ("ftbnn34_cifar", {"groups": 4, "width": 2.0, "binary_downsample": True, "bias": True,
                       "shuffle": True}, (3, 32, 32)),
    ("ftbnn18_cifar", {"groups": 4, "width": 2.0, "binary_downsample": True}, (3, 32, 32)),
]


def _engine_logits(graph, tensors, x: np.ndarray) -> dict[str, np.ndarray]:
    return {isa: Interpreter.from_graph(graph, tensors, num_threads=2, isa=isa).run(x)
            for isa in cpu.supported_isas()}


def _check_model(name: str, kwargs: dict[str, Any], shape: tuple[int, int, int]) -> None:
    torch.manual_seed(7)
    model = randomize_(build(name, **kwargs).eval(), 7)
    hi = 241 if shape[0] == 1 else 256  # digits pixels are 0..240
    x = torch.randint(0, hi, (4, *shape)).float()

    graph, tensors = convert(model, x[:1], "float")
    xf = nhwc(x, np.float32)
    assert_engine_equals_reference(graph, tensors, xf, threads=2)
    _, expected = compare_float(model, graph, tensors, x)
    atol = 1e-4 * max(1.0, float(np.abs(expected).max()))
    for isa, got in _engine_logits(graph, tensors, xf).items():
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=atol, err_msg=isa)
        assert (got.argmax(1) == expected.argmax(1)).all(), isa

    stage2_(model, x)
    graph, tensors = convert(model, x[:1], "int8")
    with torch.no_grad():
        exact_logits = model(x).numpy()  # the frozen model's exact eval forward
    for isa, got in _engine_logits(graph, tensors, nhwc(x, np.uint8)).items():
        assert np.array_equal(got, exact_logits), f"int8 logits differ on {isa}"
    assert_int8_exact(model, graph, tensors, x)


def _ids(cases: list[tuple[str, dict[str, Any], tuple[int, int, int]]]) -> list[str]:
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}-{s[1]}" for n, kw, s in cases]


@pytest.mark.parametrize(("name", "kwargs", "shape"), FAST, ids=_ids(FAST))
def test_zoo_fast(name, kwargs, shape):
    _check_model(name, kwargs, shape)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kwargs", "shape"), SLOW, ids=_ids(SLOW))
def test_zoo_slow(name, kwargs, shape):
    _check_model(name, kwargs, shape)


def test_graph_ops_of_the_new_layers():
    """The converted graphs hold what the layers lower to: channel_shuffle ops (shuffle=True),
    concat (ReActNet's concat downsample), and no extra op for the bias terms (they fold into
    the pack thresholds and the pwl parameters)."""
    x = torch.randint(0, 241, (2, 1, 8, 8)).float()
    plain = randomize_(build("ftbnn_small", groups=2, width=2.0).eval(), 1)
    extra = randomize_(build("ftbnn_small", groups=2, width=2.0, bias=True, shuffle=True).eval(),
                       1)
    for df in ("float", "int8"):
        if df == "int8":
            stage2_(plain, x)
            stage2_(extra, x)
        types_plain = [op.type for op in convert(plain, x[:1], df)[0].ops]
        types_extra = [op.type for op in convert(extra, x[:1], df)[0].ops]
        assert types_extra.count("channel_shuffle") == 6
        assert [t for t in types_extra if t != "channel_shuffle"] == types_plain
    m = build("reactnet18_cifar", downsample="concat").eval()
    types = [op.type for op in convert(m, torch.zeros(1, 3, 16, 16), "float")[0].ops]
    assert types.count("concat") == 3


class _CatBody(torch.nn.Module):
    """``cat([BN_a(x)·q_a, BN_b(x)·q_b, x], 1)`` (three different scales) → Int8Point →
    channel shuffle → BN → Int8Point: the requants in front of the concat, end to end."""

    def __init__(self, c: int):
        super().__init__()
        from bnnflow import nn as bnn

        self.bn_a, self.bn_b = torch.nn.BatchNorm2d(c), torch.nn.BatchNorm2d(c)
        self.q_a, self.q_b, self.q_cat = bnn.Int8Point(), bnn.Int8Point(), bnn.Int8Point()
        self.shuffle = bnn.ChannelShuffle(3)
        self.bn, self.q = torch.nn.BatchNorm2d(3 * c), bnn.Int8Point()

    def forward(self, x):
        y = torch.cat([self.q_a(self.bn_a(x)), self.q_b(self.bn_b(x)), x], 1)
        return self.q(self.bn(self.shuffle(self.q_cat(y))))


def test_cat_of_different_scales_end_to_end():
    from bnnflow.nn import QLinear

    from .test_errors import Wrap

    model = randomize_(Wrap(_CatBody(4), c=4).eval(), 3)
    model.fc = QLinear(12, 3)
    x = torch.randint(0, 256, (4, 1, 8, 8)).float()
    stage2_(model, x)
    graph, tensors = convert(model, x[:1], "int8")
    types = [op.type for op in graph.ops]
    assert types.count("concat") == 1 and types.count("channel_shuffle") == 1
    cat = next(op for op in graph.ops if op.type == "concat")
    # bn_a and bn_b were calibrated to other scales than the cat: requantised in front of it
    # (the stem output x happens to set the cat's range, so it keeps its scale unrequantised)
    assert cat.inputs == ["body.cat:requant0", "body.cat:requant1", "stem.0:requant32"]
    with torch.no_grad():
        logits = model(x).numpy()
    for isa, got in _engine_logits(graph, tensors, nhwc(x, np.uint8)).items():
        assert np.array_equal(got, logits), isa
    assert_int8_exact(model, graph, tensors, x)
