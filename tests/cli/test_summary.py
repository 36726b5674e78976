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


class _LongNames(torch.nn.Module):
    """ftbnn_small under a submodule name long enough that op names pass 28 characters."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone_with_a_rather_long_descriptive_name = ftbnn_small()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone_with_a_rather_long_descriptive_name(x)


def test_summary_does_not_cut_names(tmp_path, capsys):
    """Regression: the name column was cut to 28 characters; it is as wide as the longest."""
    path = tmp_path / "long.bnn"
    export(_LongNames().eval(), path, torch.zeros(1, 1, 8, 8), "float")
    assert main(["summary", str(path), "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)["rows"]]
    longest = max(names, key=len)
    assert len(longest) > 40
    assert main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["#", "type"])
    table = lines[head + 2:head + 2 + len(names)]
    for name, line in zip(names, table, strict=True):
        assert line.split()[2] == name
    # the columns after the name line up: every row's output column starts at the same place
    starts = {line.index(" N", line.index(name) + len(name)) for name, line in
              zip(names, table, strict=True)}
    assert len(starts) == 1
