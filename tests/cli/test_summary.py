"""``bnnflow summary``: table, totals and JSON of an exported model."""

from __future__ import annotations

import json

import torch

from bnnflow.cli.main import main
from bnnflow.convert import export
from bnnflow.models import ftbnn_small


def test_summary_table_and_json(tmp_path, capsys):
    path = tmp_path / "m.bnn"
    export(ftbnn_small().eval(), path, torch.zeros(1, 1, 8, 8), "float")
    assert main(["summary", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"{path.stat().st_size:,} bytes, float data-flow" in text
    assert "input image Nx8x8x1 float32" in text and "peak activation memory" in text
    assert "binary MACs 2,949,120" in text  # 6 binary 3x3 convs of ftbnn_small
    assert main(["summary", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dataflow"] == "float" and doc["totals"]["float_macs"] > 0
    assert [r["type"] for r in doc["rows"]].count("bconv") == 6


def test_summary_bad_file(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "missing.bnn")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_summary_wrong_file_types(tmp_path, capsys):
    """A directory and a PyTorch checkpoint are named for what they are."""
    assert main(["summary", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    ck = tmp_path / "ck.pt"
    torch.save({"w": torch.zeros(2)}, ck)
    assert main(["summary", str(ck)]) == 2
    err = capsys.readouterr().err
    assert "looks like a PyTorch checkpoint" in err and f"bnnflow export {ck} -o" in err
    assert "absurd" not in err
