"""Shared fixtures: the tiny local model spec and a fast training configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bnnflow.train.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so that "tests.train.tinymodels" imports under any runner
    sys.path.insert(0, str(ROOT))

TINY = "tests.train.tinymodels:tiny"


@pytest.fixture
def tiny_config(tmp_path):
    """A factory of quick digits configurations on the tiny local model."""

    def make(**overrides) -> TrainConfig:
        fields = {"model": TINY, "out": str(tmp_path / "run"), "epochs": 2, "quiet": True,
                  "batch_size": 128, "seed": 3, "threads": 1}
        fields.update(overrides)
        return TrainConfig(**fields)

    return make
