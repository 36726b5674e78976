"""``bnnflow bench``: argument validation, and the JSON of bnnflow-only runs on tiny models."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from bnnflow.bench.peers import parse_results
from bnnflow.cli.main import main

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """8x8 Bi-Real-style models exported in both data-flows (random weights, calibrated)."""
    from bnnflow.bench.models import export_bench_model

    d = tmp_path_factory.mktemp("tiny")
    return {df: export_bench_model("birealnet_small", df, d / f"tiny-{df}.bnn", size=8)
            for df in ("int8", "float")}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resnet50"], "MODEL 'resnet50': unknown"),
        (["missing.bnn"], "no such .bnn file"),
        (["birealnet18", "--threads", "1,x"], "--threads: expected comma-separated"),
        (["birealnet18", "--threads", "0"], "--threads: expected comma-separated"),
        (["birealnet18", "--threads", ""], "--threads: expected comma-separated"),
        (["birealnet18", "--batch", "-1"], "--batch: expected comma-separated"),
        (["birealnet18", "--peers", "lce,tvm"], "--peers: unknown ['tvm']"),
        (["birealnet18", "--dataflows", "int4"], "--dataflows: unknown ['int4']"),
        (["birealnet18", "--runs", "0"], "--runs and --burst must be >= 1"),
        (["birealnet18", "--burst", "0"], "--runs and --burst must be >= 1"),
        (["birealnet18", "--plot", "chart.svg"], "must end in .png"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert "bnnflow bench: error:" in err and message in err


def test_max_load_refuses(tiny: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", str(tiny["int8"]), "--max-load", "-1"]) == 2
    assert "load average" in capsys.readouterr().err


def test_json_of_a_bnnflow_only_run(tiny: dict[str, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["bench", str(tiny["int8"]), str(tiny["float"]), "--threads", "1,2", "--batch", "1,3",
            "--runs", "3", "--burst", "2", "--warmup", "1", "--json", str(out),
            "--markdown", str(md), "--profile", "--memory"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    recs = parse_results(out.read_text(), "bench")  # required fields and min <= median <= max
    assert len(recs) == 2 * 2 * 2
    got = {(r["model"], r["engine"], r["threads"], r["batch"]) for r in recs}
    assert got == {(f"tiny-{df}", f"bnnflow-{df}", t, b)
                   for df in ("int8", "float") for t in (1, 2) for b in (1, 3)}
    for r in recs:
        assert r["runs"] == 3 and r["dataflow"] in ("int8", "float")
        assert r["burst"] == 2 and r["first_median_ms"] > 0
        assert len(r["ceilings_measured"]) == 2
        assert r["binary_macs"] > 0 and r["model_bytes"] == Path(r["file"]).stat().st_size
        assert r["lower_bound_ms"] > 0 and math.isfinite(r["lower_bound_ms"])
        assert r["ceilings"]["binary_gmacs_per_core"] > 0
        assert isinstance(r["load_before"], float) and isinstance(r["load_after"], float)
        if r["batch"] == 1:  # a per-op profile for every thread count
            assert all(p["median_ms"] > 0 for p in r["profile"])
        if r["threads"] == 1 and r["batch"] == 1:
            assert r["peak_rss_bytes"] > r["model_bytes"]
            from bnnflow.format import read

            ops = read(r["file"]).graph.ops
            assert [(p["name"], p["type"]) for p in r["profile"]] == [(o.name, o.type) for o in ops]
    # batch 3 does three images' MACs: the bound scales with the batch, shrinks with threads
    by = {(r["engine"], r["threads"], r["batch"]): r["lower_bound_ms"] for r in recs}
    assert by[("bnnflow-int8", 1, 3)] == pytest.approx(3 * by[("bnnflow-int8", 1, 1)], rel=1e-3)
    assert by[("bnnflow-int8", 2, 1)] == pytest.approx(by[("bnnflow-int8", 1, 1)] / 2, rel=1e-2)
    for t in (1, 2):
        assert f"per-op profile: tiny-int8, int8 data-flow, {t} thread(s), batch 1" in captured.err
    assert "### Latency" in md.read_text() and md.read_text() in captured.out


def test_peers_without_counterpart_are_skipped(tiny: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.json"
    assert main(["bench", str(tiny["int8"]), "--peers", "lce", "--runs", "2", "--json",
                 str(out)]) == 0
    assert "no counterpart" in capsys.readouterr().err
    assert {r["engine"] for r in json.loads(out.read_text())} == {"bnnflow-int8"}


def test_module_does_not_import_torch() -> None:
    import subprocess

    code = ("import sys, bnnflow.cli.cmd_bench, bnnflow.bench.timing, bnnflow.bench.report, "
            "bnnflow.bench.models; sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.peers
def test_real_peers_beside_bnnflow(tmp_path: Path) -> None:
    """Bi-Real-Net-18 in both data-flows with LCE and ORT int8 (needs .peers/lce, .peers/ort)."""
    out = tmp_path / "r.json"
    argv = ["bench", "birealnet18", "--peers", "lce,onnxruntime-int8", "--runs", "2",
            "--warmup", "1", "--memory", "--workdir", str(tmp_path / "w"), "--json", str(out),
            "--plot", str(tmp_path / "c.png")]
    assert main(argv) == 0
    recs = parse_results(out.read_text(), "bench")
    got = {(r["engine"], r["model"]) for r in recs}
    assert got == {("bnnflow-int8", "birealnet18"), ("bnnflow-float", "birealnet18"),
                   ("lce", "birealnet"), ("onnxruntime-int8", "resnet18")}
    assert all(r["peak_rss_bytes"] > r["model_bytes"] > 0 for r in recs)
    assert (tmp_path / "c.png").stat().st_size > 1000
