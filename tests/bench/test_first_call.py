"""benchmarks/first_call.py: bursts of calls after controlled gaps (docs/performance.md, "First
calls after another engine")."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "cpp" / "engine" / "data"


@pytest.fixture(scope="module")
def fc():
    path = REPO / "benchmarks" / "first_call.py"
    spec = importlib.util.spec_from_file_location("first_call", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["first_call"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_every_gap_kind_runs_and_each_burst_position_is_timed(fc) -> None:
    gaps = ["none", "memset64K", "rw64Kx2", "huge64K", "touch1M", "sleep100us", "spin100us",
            "self1x2", "other2x1"]
    res = fc.measure(str(DATA / "tiny_int8.bnn"), gaps, burst=3, rounds=2,
                     other=str(DATA / "tiny_float.bnn"))
    assert list(res) == gaps
    for med, first, rest in res.values():
        assert len(med) == 3 and all(0 < t < 1 for t in med)
        # means of whole fault counts: call 1 over 2 rounds, calls 2-3 over 2 x 2
        assert first * 2 == round(first * 2) and rest * 4 == round(rest * 4)


def test_gaps_do_what_they_say(fc, monkeypatch) -> None:
    """A sleep gap takes its time; an engine gap runs its interpreter K times at T threads."""
    sleep = fc.make_gap("sleep20ms", str(DATA / "tiny_int8.bnn"), None)
    t0 = time.perf_counter()
    sleep()
    assert time.perf_counter() - t0 >= 0.019
    made = []

    class Counting(fc.Interpreter):
        def __init__(self, path, num_threads=1):
            super().__init__(path, num_threads=num_threads)
            self.calls = 0
            made.append(self)

        def run(self, x):
            self.calls += 1
            return super().run(x)

    monkeypatch.setattr(fc, "Interpreter", Counting)
    gap = fc.make_gap("other2x4", str(DATA / "tiny_int8.bnn"), str(DATA / "tiny_float.bnn"))
    assert [(m.num_threads, m.calls) for m in made] == [(2, 1)]  # one warm-up call
    gap()
    gap()
    assert made[0].calls == 9


@pytest.mark.parametrize("spec, message", [
    ("bogus", "is not none"),
    ("memset1G", "is not none"),
    ("memset1Mx3", "only rw takes a repeat count"),
    ("other1", "needs --other"),
])
def test_bad_gaps_are_refused_by_name(fc, spec: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        fc.make_gap(spec, str(DATA / "tiny_int8.bnn"), None)


def test_bad_burst_or_rounds_are_refused(fc) -> None:
    with pytest.raises(SystemExit, match="must be >= 1"):
        fc.measure(str(DATA / "tiny_int8.bnn"), ["none"], burst=0)


def test_steps_are_profiled_per_call_position(fc, capsys) -> None:
    """--steps: every step's median at every call position, and the report names the steps."""
    steps: dict = {}
    fc.measure(str(DATA / "tiny_int8.bnn"), ["none", "spin100us"], burst=3, rounds=2, steps=steps)
    names = list(steps["names"])
    assert len(names) > 1 and all(isinstance(n, str) for n in names)
    for g in ("none", "spin100us"):
        assert steps[g].shape == (3, len(names)) and (steps[g] > 0).all()
    fc.main([str(DATA / "tiny_int8.bnn"), "--rounds", "2", "--burst", "3",
             "--gaps", "none,spin100us", "--steps", "2"])
    out = capsys.readouterr().out
    assert "spin100us: sum of steps" in out and sum(n in out for n in names) >= 1
    with pytest.raises(SystemExit, match="needs the none gap"):
        fc.main([str(DATA / "tiny_int8.bnn"), "--gaps", "spin100us", "--steps", "2"])
