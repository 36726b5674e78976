import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.train.tinymodels import tiny

from bnnflow.train.recipe import (
    distillation_loss,
    lr_factor,
    make_optimizer,
    make_scheduler,
    param_groups,
)


def test_binary_latent_weights_get_no_decay():
    model = tiny()
    groups = {g["name"]: g for g in param_groups(model, 1e-4)}
    assert [id(p) for p in groups["binary_latent"]["params"]] == [id(model.binary.weight)]
    assert groups["binary_latent"]["weight_decay"] == 0.0
    decayed = {id(p) for p in groups["real_weights"]["params"]}
    assert decayed == {id(model.stem.weight), id(model.fc.weight)}
    assert groups["real_weights"]["weight_decay"] == 1e-4
    assert id(model.bn1.weight) in {id(p) for p in groups["no_decay"]["params"]}
    total = sum(len(g["params"]) for g in groups.values())
    assert total == len(list(model.parameters()))


def test_lr_factor_shapes():
    assert lr_factor(0, 100, 10, "cosine") == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, "cosine") == pytest.approx(0.5)
    assert lr_factor(55, 100, 10, "linear") == pytest.approx(0.5)
    assert lr_factor(100, 100, 0, "linear") == 0.0
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(0, 10, 0, "step")


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 500), st.integers(0, 50), st.sampled_from(["cosine", "linear"]))
def test_lr_factor_is_bounded_and_decays_after_warmup(total, warmup, schedule):
    warmup = min(warmup, total)
    values = [lr_factor(t, total, warmup, schedule) for t in range(total)]
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in values)
    tail = values[warmup:]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(tail))


def test_scheduler_follows_lr_factor():
    model = tiny()
    opt = make_optimizer(model, 0.01, 0.0)
    sched = make_scheduler(opt, 20, 4, "cosine")
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.01 * lr_factor(t, 20, 4, "cosine") for t in range(20)])


def test_distillation_loss_formula():
    torch.manual_seed(0)
    s, t = torch.randn(5, 4), torch.randn(5, 4)
    y = torch.tensor([0, 1, 2, 3, 0])
    tau, alpha = 3.0, 0.25
    p_t = torch.softmax(t / tau, 1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / tau, 1))).sum(1).mean()
    ce = torch.nn.functional.cross_entropy(s, y)
    expected = (1 - alpha) * ce + alpha * tau**2 * kl
    assert distillation_loss(s, t, y, alpha, tau).item() == pytest.approx(expected.item(), 1e-5)
    assert distillation_loss(s, t, y, 0.0, tau).item() == pytest.approx(ce.item())
    assert distillation_loss(s, s, y, 1.0, tau).item() == pytest.approx(0.0, abs=1e-6)
    assert not math.isnan(distillation_loss(s * 100, t, y, 0.5, 0.5).item())
