"""bnnflow.bench.report: tables and goal arithmetic on hand-made records."""

from __future__ import annotations

from bnnflow.bench.report import goals, goals_table, latency_table, markdown_report, speedup_table


def rec(engine: str, model: str, median: float, threads: int = 1, batch: int = 1, **kw) -> dict:
    return {"engine": engine, "model": model, "threads": threads, "batch": batch,
            "median_ms": median, "min_ms": median, "max_ms": median, "runs": 3, **kw}


RECS = [
    rec("bnnflow-int8", "birealnet18", 2.0, lower_bound_ms=1.6, binary_macs=1, int8_macs=1,
        float_macs=0),
    rec("bnnflow-int8", "birealnet18", 1.0, threads=2, lower_bound_ms=0.8, binary_macs=1,
        int8_macs=1, float_macs=0),
    rec("bnnflow-float", "birealnet18", 3.0),
    rec("lce", "birealnet", 20.0, first_median_ms=23.5),
    rec("torch", "birealnet18-float", 40.0),
    rec("torch", "resnet18", 44.0),
    rec("onnxruntime-int8", "resnet18", 5.0),
]


def test_goals_arithmetic() -> None:
    got = {g.what: (g.measured, g.met) for g in goals(RECS)}
    assert got["int8 speed-up vs LCE"] == (10.0, True)
    assert got["int8 speed-up vs PyTorch fp32 (birealnet18-float)"] == (20.0, True)
    assert got["int8 speed-up vs ORT int8 ResNet-18"] == (2.5, False)
    assert got["int8 median / lower bound"] == (1.25, True)
    assert got["int8 2 threads speed-up over 1"] == (2.0, True)
    assert got["int8 speed-up vs float data-flow"] == (1.5, True)


def test_missing_counterparts_are_not_measured() -> None:
    g = {x.what: x for x in goals(RECS[:1])}
    assert g["int8 speed-up vs LCE"].met is None
    assert "not measured" in goals_table(RECS[:1])


def test_tables() -> None:
    lat = latency_table(RECS)
    assert ("| birealnet18 | lce (birealnet) | 1 | 1 | 20.00 | 20.00 | 20.00 | 23.50 | 20.00 |"
            in lat)
    assert "| birealnet18 | bnnflow-float | 1 | 1 | 3.00 | 3.00 | 3.00 | — | 3.00 |" in lat
    assert "57.5 %" in lat and "56.4 %" in lat and "69.5 %" in lat
    sp = speedup_table(RECS)
    assert "| birealnet18 | 1 | 1 | 10.00x | 20.00x | 22.00x | — | 2.50x | 1.50x |" in sp
    md = markdown_report(RECS)
    for head in ("### Latency", "### Speed-up", "### Against the lower bound", "### Goals"):
        assert head in md
