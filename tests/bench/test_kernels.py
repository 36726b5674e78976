"""The kernel benchmark's command line (tiny shapes, few repeats: a smoke test, not timing)."""

from __future__ import annotations

import argparse
import json

import pytest

from bnnflow import _engine
from bnnflow.bench import kernels


def test_parse_shape():
    assert kernels.parse_shape("3x3,64,128,56x56,2") == (3, 64, 128, 56, 2)
    assert kernels.parse_shape("1x1,33,7,9x9") == (1, 33, 7, 9, 1)
    for bad in ("3x3,64,64", "3x5,64,64,56x56", "3x3,a,64,56x56", "3x3,0,64,8x8"):
        with pytest.raises(argparse.ArgumentTypeError):
            kernels.parse_shape(bad)


@pytest.mark.parametrize("epilogue", ["int32", "int8", "float", "packed"])
def test_main_writes_json(tmp_path, capsys, epilogue):
    out = tmp_path / "bench.json"
    argv = ["--shape", "3x3,40,24,9x9,2", "--threads", "1", "2", "--json", str(out),
            "--repeats", "2", "--min-seconds", "0", "--epilogue", epilogue]  # fmt: skip
    assert kernels.main(argv) == 0
    rows = json.loads(out.read_text())
    assert [r["threads"] for r in rows] == [1, 2]
    for r in rows:
        assert r["shape"] == "3x3,40,24,9x9,2" and r["epilogue"] == epilogue
        assert r["median_ms"] > 0 and r["gbmacs"] > 0 and r["ceiling_gbmacs"] > 0
        assert r["ratio"] == pytest.approx(r["gbmacs"] / r["ceiling_gbmacs"])
    assert rows[1]["ceiling_gbmacs"] == pytest.approx(2 * rows[0]["ceiling_gbmacs"])
    assert rows[1]["speedup_vs_1_thread"] > 0
    assert "the ISA timed" in capsys.readouterr().out


def test_ratio_uses_the_ceiling_of_the_isa_timed(tmp_path):
    """--isa avx2 on an AVX-512 CPU: the ratio is to AVX2's best method, not AVX-512's."""
    out = tmp_path / "bench.json"
    for isa in _engine.supported_isas():
        argv = ["--shape", "3x3,40,24,9x9,2", "--json", str(out), "--repeats", "2",
                "--min-seconds", "0", "--isa", isa]  # fmt: skip
        assert kernels.main(argv) == 0
        (row,) = json.loads(out.read_text())
        assert row["isa"] == isa
        assert row["ceiling_method"].startswith(f"{isa}/")
        assert row["ceiling_gbmacs"] == pytest.approx(
            max(r["gbmacs"] for r in _engine.xor_popcount_ceiling(isa)), rel=0.5
        )


def test_resnet18_layers_are_the_seven_3x3_shapes():
    assert len(kernels.RESNET18_LAYERS) == 7
    assert {(cin, cout) for _, cin, cout, _, _ in kernels.RESNET18_LAYERS} >= {(256, 256)}


@pytest.mark.parametrize("isa", ["bogus", "neon", "avx512"])
def test_an_isa_this_cpu_lacks_is_a_usage_error(capsys, isa):
    if isa in _engine.supported_isas():
        pytest.skip(f"this CPU runs {isa}")
    with pytest.raises(SystemExit) as e:
        kernels.main(["--isa", isa, "--shape", "3x3,40,24,9x9,2"])
    assert e.value.code == 2
    assert "--isa: invalid choice" in capsys.readouterr().err
