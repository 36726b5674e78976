"""``bnnflow demo``: the pieces fast, the whole run under ``-m slow``."""

from __future__ import annotations

import json

import pytest

from bnnflow.cli import cmd_demo
from bnnflow.cli.main import main


def _rows():
    names = ["bnnflow int8", "bnnflow float", "PyTorch fp32 float twin",
             "PyTorch fp32 binary model"]
    return [{"engine": n, "batch": b, "median_ms": (i + 1) * b / 10, "runs": 5,
             "images_per_s": 1.0} for b in cmd_demo.BATCHES for i, n in enumerate(names)]


def test_median_ms_counts_runs():
    calls = []
    ms, runs = cmd_demo.median_ms(lambda: calls.append(1), budget_s=0.01, min_runs=7)
    assert runs >= 7 and len(calls) == runs + 1 and ms >= 0  # + the warm-up run


def test_table_and_chart(tmp_path):
    text = cmd_demo.table(_rows())
    assert "bnnflow int8" in text and "4.00x" in text  # binary model 4x slower than int8
    # float (2nd row) takes twice int8's time at every batch
    assert "float ms / int8 ms): 2.00x at batch 1, 2.00x at batch 256" in text
    agree = {"int8": {"agreement": 1.0}, "float": {"agreement": 0.995}}
    cmd_demo.chart(_rows(), agree, 1, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments(capsys):
    assert main(["demo", "--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "2", "--seconds", "0.05"]) == 0
    report = json.loads((out / "demo.json").read_text())
    for dataflow in ("int8", "float"):
        assert report["agreement"][dataflow]["agreement"] >= 0.995
        assert (out / f"ftbnn_small_{dataflow}.bnn").is_file()
    assert len(report["timing"]) == 8 and (out / "demo.png").is_file()
    assert str(out) in capsys.readouterr().out


def test_demo_replaces_its_own_runs(tmp_path, monkeypatch):
    """A second demo into the same directory is not refused as "already holds a run"."""
    import bnnflow.train

    configs = []
    monkeypatch.setattr(bnnflow.train, "train", lambda config, log=None: configs.append(config))
    cmd_demo.train_all(tmp_path, 3, 1)
    assert [c.overwrite for c in configs] == [True, True, True]
    assert all(not c.resume for c in configs)
