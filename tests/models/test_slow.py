"""Long checks: full-size trace equality and digits accuracy of the small models (-m slow)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bnnflow.models import build
from bnnflow.nn import calibrate, clip_latent_weights_, enable_int8, freeze_int8

from .fx_check import check_traces

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["birealnet18", "ftbnn18", "quicknet", "reactnet18"])
def test_full_size_trace_equality(name):
    check_traces(build(name), torch.rand(2, 3, 224, 224) * 255)


def test_export_full_size():
    m = build("quicknet").eval()
    x = torch.rand(1, 3, 224, 224) * 255
    ep = torch.export.export(m, (x,))
    with torch.no_grad():
        assert torch.allclose(ep.module()(x), m(x))


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images * 15).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(
        x, d.target, test_size=0.25, random_state=0, stratify=d.target
    )
    return tuple(torch.tensor(a) for a in (xtr, xte, ytr, yte))


def _accuracy(m, x, y) -> float:
    m.eval()
    with torch.no_grad():
        return (m(x).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("ftbnn_small", {}), ("birealnet_small", {}), ("ftbnn_small_float", {}),
     ("birealnet_small_float", {}), ("ftbnn_small", {"bias": True}), ("reactnet_small", {}),
     ("ftbnn_small", {"groups": 2, "width": 2.0, "shuffle": True})],
)
def test_digits_accuracy(name, kwargs):
    """30 epochs of Adam reach >= 0.90 test accuracy, also after int8 calibration."""
    torch.manual_seed(0)
    xtr, xte, ytr, yte = _digits()
    m = build(name, **kwargs)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 30)
    for _ in range(30):
        m.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            loss = F.cross_entropy(m(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            clip_latent_weights_(m)
        sched.step()
    assert _accuracy(m, xte, yte) >= 0.90
    enable_int8(m)
    calibrate(m, [xtr[i : i + 256] for i in range(0, len(xtr), 256)])
    freeze_int8(m)
    assert _accuracy(m, xte, yte) >= 0.90
