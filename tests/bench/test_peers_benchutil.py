"""Tests of benchmarks/benchutil.py (the timing helper every peer driver uses; stdlib only)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bu():
    spec = importlib.util.spec_from_file_location("benchutil", REPO / "benchmarks" / "benchutil.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["benchutil"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_measure_interleaves_and_rotates(bu) -> None:
    order: list[str] = []
    cases = [
        bu.Case(
            "m", e, 1, 1, run=lambda e=e: order.append(e), prepare=lambda e=e: order.append("p" + e)
        )
        for e in "abc"
    ]
    recs = bu.measure(cases, runs=3, warmup=1)
    timed = order[6:]  # 3 warm-ups, each with its prepare
    assert order[:6] == ["pa", "a", "pb", "b", "pc", "c"]
    runs = [x for x in timed if not x.startswith("p")]
    assert runs == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(timed[i] == "p" + timed[i + 1] for i in range(0, len(timed), 2))
    assert [r["engine"] for r in recs] == ["a", "b", "c"]
    assert all(r["runs"] == 3 and 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"] for r in recs)


def test_measure_bursts_split_first_calls(bu) -> None:
    order: list[str] = []
    cases = [bu.Case("m", e, 1, 1, run=lambda e=e: order.append(e)) for e in "ab"]
    recs = bu.measure(cases, runs=2, warmup=0, burst=3)
    assert order[2:] == ["a", "a", "a", "b", "b", "b", "b", "b", "b", "a", "a", "a"]
    for r in recs:
        assert r["runs"] == 4 and r["burst"] == 3 and r["first_median_ms"] > 0
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"]
    assert all("first_median_ms" not in r for r in bu.measure(cases, runs=1, warmup=0))
    with pytest.raises(SystemExit, match="burst"):
        bu.measure(cases, runs=1, warmup=0, burst=0)


def test_summarize_in_milliseconds(bu) -> None:
    s = bu.summarize([0.003, 0.001, 0.002, 0.010])
    assert s == {"median_ms": 2.5, "min_ms": 1.0, "max_ms": 10.0, "runs": 4}


def test_add_best_picks_fastest_variant_per_config(bu) -> None:
    def rec(engine, threads, med):
        return {"model": "r", "engine": engine, "threads": threads, "batch": 1, "median_ms": med}

    recs = [
        rec("torch-jit", 1, 5.0),
        rec("torch-compile", 1, 4.0),
        rec("torch-jit", 2, 3.0),
        rec("torch-compile", 2, 3.5),
        rec("other", 1, 1.0),
    ]
    out = bu.add_best(recs, "torch-", "torch")
    best = {r["threads"]: r for r in out if r["engine"] == "torch"}
    assert best[1]["variant"] == "torch-compile" and best[1]["median_ms"] == 4.0
    assert best[2]["variant"] == "torch-jit"
    assert len(out) == len(recs) + 2


@pytest.mark.parametrize("text", ["0", "1,x", "", "-2"])
def test_int_list_rejects(bu, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bu.int_list(text)


def test_int_list_and_models(bu) -> None:
    assert bu.int_list("1, 2,8") == [1, 2, 8]
    assert bu.pick_models("a,b", ["a", "b", "c"]) == ["a", "b"]
    with pytest.raises(SystemExit, match="unknown"):
        bu.pick_models("a,z", ["a"])


def test_check_load_refuses_above_max(bu, monkeypatch) -> None:
    monkeypatch.setattr(bu, "load_average", lambda: 3.0)
    with pytest.raises(SystemExit, match=r"--max-load 1\.0"):
        bu.check_load(1.0)
    assert bu.check_load(None) == 3.0  # only warns


def test_finish_writes_json_with_load(bu, tmp_path: Path, capsys) -> None:
    recs = [
        {
            "model": "m",
            "engine": "e",
            "threads": 1,
            "batch": 1,
            "median_ms": 1.0,
            "min_ms": 1.0,
            "max_ms": 1.0,
            "runs": 1,
        }
    ]
    bu.finish(recs, str(tmp_path / "r.json"), load_before=0.25)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data[0]["load_before"] == 0.25 and "load_after" in data[0] and "cpu" in data[0]
    assert json.loads(capsys.readouterr().out) == data
