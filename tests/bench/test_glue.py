"""The glue benchmark runs end to end on a small image and reports consistent numbers."""

from __future__ import annotations

import json

import pytest

from bnnflow import _engine, cpu
from bnnflow.bench import glue


def test_stem_macs_of_the_224_stem():
    assert glue.stem_macs(224) == 112 * 112 * 64 * 7 * 7 * 3


def test_run_reports_every_isa_and_a_sane_peak_fraction(tmp_path):
    out = tmp_path / "glue.json"
    assert glue.main(["--size", "16", "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["isa"] for r in report["results"]] == cpu.supported_isas()
    for r in report["results"]:
        assert r["int8_stem_ms"] > 0 and r["f32_stem_ms"] > 0
        assert r["requant32_ms"] > 0 and r["fused_stem_ms"] > 0
        if r["isa"] != "scalar":
            assert r["peak_gmacs_per_core"] > 0
            assert 0 < r["fraction_of_peak"] < 2  # a tiny image can beat a noisy peak a bit
    assert [(r["isa"], r["threads"]) for r in report["quicknet_stem"]] == [
        (isa, 1) for isa in cpu.supported_isas()
    ]
    assert all(r["ms"] > 0 and r["gmacs"] > 0 for r in report["quicknet_stem"])
    ops = {(r["isa"], r["op"]) for r in report["eltwise"]}
    assert ops == {(isa, op) for isa in cpu.supported_isas() for op in glue.ELTWISE_OPS}
    assert all(r["us"] > 0 and r["shape"] == list(glue.ELTWISE_SHAPE) for r in report["eltwise"])


def test_mac_peak_is_refused_for_scalar_and_bad_seconds():
    with pytest.raises(ValueError, match="isa"):
        _engine.int8_mac_peak("scalar")
    with pytest.raises(ValueError, match="seconds"):
        _engine.int8_mac_peak(None, 0.0)
