"""Random small models, drawn from a seeded generator over the bnnflow.nn layers (stems, binary
convs with every padding mode, groups and quantizer, sign chains, PReLU-family
non-linearities, max / sign / average pools, 1x1 and depthwise int8 convs, residual adds,
GAP / flatten / binary-linear heads), with BatchNorms pushed to the extremes (γ = 0 and tiny,
large γ, large β, tiny variances: dead and saturated channels) and, for some draws, a fault
the converter must refuse (a real conv reading bits, a binary layer without its clipping
block, an Int8Point that saw only zeros).

For each model and each data-flow the implication is checked:

- converts ⇒ the file validates (save + load round trip), runs on the engine Interpreter and
  equals the reference op by op (integer and packed tensors identical, float32 within the
  documented tolerance), and the frozen PyTorch model's eval forward equals the reference on
  every Int8Point tensor and bit for bit on the logits;
- refused ⇒ a ConversionError naming a module of the model and the rule (for an injected
  fault: that fault's rule); never a FormatError, ValueError or IndexError from inside.

The default run draws a few models (a few seconds); ``-m slow`` draws 150 more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from bnnflow import nn as bnn
from bnnflow.convert import ConversionError, convert

from .helpers import (
    assert_engine_equals_reference,
    assert_int8_exact,
    build_random,
    compare_float,
    compare_int8,
    nhwc,
    stage2_,
)

#: Injected faults: name -> the words the refusal must contain.
FAULTS = {
    "sign_to_real": "which is not a binary layer",
    "no_clip": "clip=False",
    "zero_point": "observed range is empty",
}


def draw_layer(rng: np.random.Generator) -> dict[str, Any]:
    kind = str(rng.choice(["bconv", "bconv", "chain", "pwl", "maxpool", "avgpool", "signpool",
                           "conv1x1", "dwconv", "bn"]))
    return {
        "kind": kind, "cout": int(rng.integers(1, 40)), "k": int(rng.choice([1, 3, 5])),
        "stride": int(rng.choice([1, 2])), "pad_mode": str(rng.choice(["zero", "one", "valid"])),
        "groups": int(rng.choice([1, 2, 4])),
        "quant": str(rng.choice(["ste", "approx", "shift"])),
        "weight_scale": str(rng.choice(["none", "channel_mean", "learnable"])),
        "relu": bool(rng.random() < 0.3), "residual": bool(rng.random() < 0.4),
        "pwl": str(rng.choice(["prelu", "rprelu", "two_sided", "relu"])),
        "pool_k": int(rng.choice([2, 3])),
    }


def draw_spec(seed: int) -> dict[str, Any]:
    """A model spec for :func:`helpers.build_random`, plus the extreme-BN and fault draws."""
    rng = np.random.default_rng(seed)
    return {
        "seed": seed, "cin": int(rng.integers(1, 4)), "c0": int(rng.integers(2, 33)),
        "size": int(rng.integers(3, 10)),
        "layers": [draw_layer(rng) for _ in range(int(rng.integers(1, 5)))],
        "head": str(rng.choice(["gap", "flat", "binary"])), "classes": int(rng.integers(2, 8)),
        "batch": 8, "extreme_bn": float(rng.choice([0.0, 0.2, 0.5])),
        "fault": list(FAULTS)[seed // 3 % len(FAULTS)] if seed % 3 == 2 else None,
    }


def extreme_bn_(model: nn.Module, share: float, seed: int) -> None:
    """Push a share of every BatchNorm's channels to the extremes."""
    g = np.random.default_rng(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) or m.weight is None:
                continue
            for c in np.flatnonzero(g.random(m.num_features) < share):
                kind = g.integers(5)
                if kind == 0:  # dead: output is the constant β
                    m.weight[c], m.bias[c] = 0.0, float(g.choice([-0.9, 0.9, 40.0]))
                elif kind == 1:  # nearly dead
                    m.weight[c] = float(g.choice([1e-7, -1e-5, 1e-6]))
                    m.bias[c] = float(g.choice([-2.0, 0.9, 3.0]))
                elif kind == 2:  # huge gain
                    m.weight[c] = float(g.choice([-300.0, 1e3]))
                elif kind == 3:  # tiny variance
                    m.running_var[c] = 1e-9
                else:  # large shift: saturates
                    m.bias[c] = float(g.choice([-1e4, 1e4]))


@dataclass
class Drawn:
    model: nn.Module
    x: torch.Tensor
    fault: str | None


def _inject_sign_to_real(model: nn.Module) -> bool:
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            for i, child in enumerate(m):
                if isinstance(child, bnn.QConv2d) and child.input_scale is None:
                    m[i] = nn.Sequential(bnn.SignActivation(), child)
                    return True
    return False


def draw_model(seed: int) -> Drawn:
    """The stage-2 model, its calibration/test batch and the fault injected (if any)."""
    spec = draw_spec(seed)
    fault = spec.pop("fault")
    share = spec.pop("extreme_bn")
    model, x = build_random(spec)
    extreme_bn_(model, share, seed)
    if fault == "sign_to_real" and not _inject_sign_to_real(model):
        fault = None
    stage2_(model, x)
    if fault == "no_clip":  # a binary conv with the int8 epilogue: its block ends in an Int8Point
        blocks = [m for m in model.modules() if isinstance(m, nn.Sequential) and len(m)
                  and isinstance(m[-1], bnn.Int8Point)]
        binary = [c for b in blocks for c in b if isinstance(c, bnn.BinaryConv2d)]
        if binary:
            binary[-1].clip = False
        else:
            fault = None
    if fault == "zero_point":
        points = [m for m in model.modules() if isinstance(m, bnn.Int8Point)]
        with torch.no_grad():
            points[-1].max_abs.fill_(0.0)  # as if it had seen only zeros
            points[-1].scale.fill_(1e-12 / 127)
    return Drawn(model, x, fault)


def _refused(model: nn.Module, err: ConversionError, fault: str | None, dataflow: str) -> None:
    modules = dict(model.named_modules())
    assert err.module in modules, f"{err.module!r} is not a module of the model: {err}"
    assert err.reason and err.op, str(err)
    if fault is not None and (dataflow == "int8" or fault == "sign_to_real"):
        assert FAULTS[fault] in err.reason, str(err)
    # a refusal of a fault-free draw must name a rule (fixed point that fits no shift)
    elif fault is None:
        assert "fixed point" in err.reason or "Int8Point" in err.reason, str(err)


def check_model(seed: int) -> dict[str, str]:
    """Run the implication for both data-flows; returns dataflow -> 'ok' / 'refused'."""
    d = draw_model(seed)
    outcome = {}
    for dataflow, dtype in (("int8", np.uint8), ("float", np.float32)):
        try:
            graph, tensors = convert(d.model, d.x[:1], dataflow)
        except ConversionError as err:
            _refused(d.model, err, d.fault, dataflow)
            outcome[dataflow] = "refused"
            continue
        assert d.fault is None or (dataflow == "float" and d.fault != "sign_to_real"), \
            f"{dataflow}: fault {d.fault} was not refused"
        assert_engine_equals_reference(graph, tensors, nhwc(d.x, dtype))
        if dataflow == "int8":
            assert_int8_exact(d.model, graph, tensors, d.x)
        else:
            got, exp = compare_float(d.model, graph, tensors, d.x)
            scale = max(1.0, float(np.abs(exp).max()))
            assert np.isclose(got, exp, rtol=1e-4, atol=1e-4 * scale).all(axis=1).mean() >= 0.9
        outcome[dataflow] = "ok"
    return outcome


@pytest.mark.parametrize("seed", [*range(6), 546])  # 546: a dead channel's int32 B wrapped
def test_random_models(seed):
    check_model(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6, 156))
def test_random_models_many(seed):
    check_model(seed)


def test_measure_ties_counts_what_compare_int8_counts():
    """The measurement script (docs/conversion.md) tallies the same elements and (eval
    forward) mismatches as the tests' comparison, grouped by producing op, and sees the
    logits equal."""
    from collections import defaultdict

    from .measure_ties import Tally, measure

    d = draw_model(7)  # has an average pool
    tallies: dict[str, Tally] = defaultdict(Tally)
    assert measure(d.model, d.x, tallies) is True
    graph, tensors = convert(d.model, d.x[:1], "int8")
    report = compare_int8(d.model, graph, tensors, d.x)
    assert sum(t.elements for t in tallies.values()) == report.elements
    assert sum(t.mismatches for t in tallies.values()) == report.mismatches == 0
    assert "requant32 after sumpool_int8" in tallies
