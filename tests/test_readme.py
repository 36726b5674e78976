"""The README's Python snippet runs as written against a small int8 model named model.bnn."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bnnflow import nn as bnn
from bnnflow.convert import export
from bnnflow.models import ftbnn_small
from bnnflow.runtime import Interpreter
from bnnflow.train.data import load_digits

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory) -> Path:
    """ftbnn_small in the int8 data-flow (untrained, calibrated on digits), as model.bnn."""
    torch.manual_seed(0)
    model = ftbnn_small()
    x = load_digits().train.images[:64].float()
    bnn.enable_int8(model)
    bnn.calibrate(model, [x])
    bnn.freeze_int8(model)
    path = tmp_path_factory.mktemp("readme") / "model.bnn"
    export(model.eval(), path, x[:1], "int8")
    return path


def test_readme_has_one_python_snippet():
    assert len(python_blocks(README.read_text())) == 1


def test_readme_snippet_runs(int8_model, monkeypatch, capsys):
    """The snippet runs in the folder of model.bnn and feeds the engine the same raw pixels
    (0..240, uint8, NHWC) as bnnflow's `digits` data set."""
    (code,) = python_blocks(README.read_text())
    monkeypatch.chdir(int8_model.parent)
    scope: dict = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), scope)
    images, logits = scope["images"], scope["logits"]
    assert images.dtype == np.uint8 and images.shape == (1797, 8, 8, 1)
    assert images.max() == 240
    data = load_digits()
    train = data.train.images.numpy().transpose(0, 2, 3, 1)
    # every training image of the data set appears among the snippet's images
    flat = {img.tobytes() for img in images}
    assert all(img.tobytes() in flat for img in train)
    assert logits.shape == (1797, 10)
    np.testing.assert_array_equal(logits, Interpreter(int8_model).run(images))
    out = capsys.readouterr().out
    assert "accuracy " in out and "uint8" in out
