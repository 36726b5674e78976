"""bnnflow.bench.timing: lower-bound math, interleaving, summaries, load check."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.bench import timing
from bnnflow.bench.timing import (
    Case,
    Ceilings,
    best_ceilings,
    lower_bound_ms,
    measure_interleaved,
    summarize,
)

CEIL = Ceilings(500e9, "avx2/test", 100e9, "avx2")


def test_best_ceilings_takes_each_rate_from_its_best_run() -> None:
    a = Ceilings(1.0e12, "avx512/vpopcntdq", 2.0e11, "avx512")
    b = Ceilings(1.2e12, "avx512/nibble", 1.5e11, "avx2")
    best = best_ceilings([a, b])
    assert (best.binary_macs_per_s, best.binary_method) == (1.2e12, "avx512/nibble")
    assert (best.int8_macs_per_s, best.int8_isa) == (2.0e11, "avx512")
    assert best_ceilings([a]) == a
    with pytest.raises(ValueError):
        best_ceilings([])


def test_lower_bound_worked_example() -> None:
    # Bi-Real-Net-18: 1.676 G binary MACs at 500 G/s = 3.352 ms; 0.138 G int8 MACs at
    # 100 G/s = 1.378 ms
    assert lower_bound_ms(1_676_279_808, 137_793_536, 1, 1, CEIL) == pytest.approx(
        1e3 * (1_676_279_808 / 500e9 + 137_793_536 / 100e9))
    assert lower_bound_ms(1_676_279_808, 137_793_536, 1, 1, CEIL) == pytest.approx(4.7305, abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(0, 10**10), i=st.integers(0, 10**10), batch=st.integers(1, 64),
       threads=st.integers(1, 16))
def test_lower_bound_scales(b: int, i: int, batch: int, threads: int) -> None:
    one = lower_bound_ms(b, i, 1, 1, CEIL)
    assert lower_bound_ms(b, i, batch, threads, CEIL) == pytest.approx(one * batch / threads)
    assert lower_bound_ms(b, i, 1, 1, Ceilings(1e12, "x", 2e11, "y")) == pytest.approx(one / 2)


@pytest.mark.parametrize("args", [(-1, 0, 1, 1), (0, -1, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)])
def test_lower_bound_rejects_bad_input(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        lower_bound_ms(*args, CEIL)
    with pytest.raises(ValueError, match="ceilings"):
        lower_bound_ms(1, 1, 1, 1, Ceilings(0.0, "x", 1.0, "y"))


def test_summarize() -> None:
    s = summarize([0.003, 0.001, 0.002, 0.010])
    assert s == {"median_ms": 2.5, "min_ms": 1.0, "max_ms": 10.0, "runs": 4}
    with pytest.raises(ValueError):
        summarize([])


def test_measure_interleaves_and_rotates() -> None:
    order: list[str] = []
    cases = [Case("m", e, 1, 1, lambda e=e: order.append(e), {"x": e}) for e in "abc"]
    recs = measure_interleaved(cases, runs=3, warmup=1)
    assert order[:3] == ["a", "b", "c"]  # warm-up
    assert order[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [(r["engine"], r["runs"], r["x"]) for r in recs] == [("a", 3, "a"), ("b", 3, "b"),
                                                                 ("c", 3, "c")]
    with pytest.raises(ValueError):
        measure_interleaved(cases, runs=0, warmup=0)


class FakeClock:
    """perf_counter stand-in: a call costs 5 ms after another case ran (cold), else 1 ms."""

    def __init__(self) -> None:
        self.now = 0.0
        self.last: str | None = None

    def __call__(self) -> float:
        return self.now

    def run(self, name: str) -> None:
        self.now += 0.001 if self.last == name else 0.005
        self.last = name


def test_measure_bursts_split_first_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("bnnflow.bench.timing.time.perf_counter", clock)
    cases = [Case("m", e, 1, 1, lambda e=e: clock.run(e), {}) for e in "abc"]
    recs = measure_interleaved(cases, runs=4, warmup=0, burst=3)
    for r in recs:
        assert r["runs"] == 8 and r["burst"] == 3
        assert r["median_ms"] == r["min_ms"] == r["max_ms"] == pytest.approx(1.0)
        assert r["first_median_ms"] == pytest.approx(5.0)
    single = measure_interleaved(cases, runs=4, warmup=0)
    assert all(r["median_ms"] == pytest.approx(5.0) and r["burst"] == 1
               and "first_median_ms" not in r for r in single)
    with pytest.raises(ValueError, match="burst"):
        measure_interleaved(cases, runs=1, warmup=0, burst=0)


def test_check_quiet(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(timing, "load_average", lambda: 3.5)
    assert timing.check_quiet() == 3.5
    assert "WARNING: load average 3.50" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match=r"max_load 1\.0"):
        timing.check_quiet(1.0)
    monkeypatch.setattr(timing, "load_average", lambda: 0.1)
    assert timing.check_quiet(1.0) == 0.1
    assert capsys.readouterr().err == ""


def test_format_profile_fraction_of_ceiling() -> None:
    rows = [{"name": "c", "type": "bconv", "median_ms": 1.0, "binary_macs": 250_000_000,
             "int8_macs": 0, "float_macs": 0, "backend": "engine"},
            {"name": "a", "type": "add", "median_ms": 1.0, "binary_macs": 0, "int8_macs": 0,
             "float_macs": 0, "backend": "engine"}]
    text = timing.format_profile("t", rows, 2.5, CEIL, threads=1)
    assert " 0.50" in text  # 250 G/s of a 500 G/s ceiling
    assert "bconv 1.00 ms (50 %)" in text and "whole run (median) 2.50 ms" in text


def test_profile_steps_names_the_fused_steps() -> None:
    import numpy as np

    from bnnflow.graph.examples import random_input, tiny_int8_model
    from bnnflow.runtime import Interpreter

    rng = np.random.default_rng(0)
    graph, tensors = tiny_int8_model(rng)
    interp = Interpreter.from_graph(graph, tensors)
    rows = timing.profile_steps(interp, random_input(rng, graph, 1), repeats=3)
    assert [r["name"] for r in rows] == interp.steps
    fused = next(r for r in rows if r["type"] == "bconv+add+pwl+pack")
    assert fused["name"] == "block1.conv+block1.add+block1.prelu+block2.sign"
    assert all(r["median_ms"] >= 0 for r in rows)
    text = timing.format_steps("t", rows, 1.0)
    assert "block1.conv+block1.add+block1.prelu+block2.sign" in text
    assert "whole run (median) 1.00 ms" in text


def test_format_steps_aligns_long_fused_types() -> None:
    """A band chain's type is longer than the default column: every row's time still lines
    up under the header's ``ms``."""
    chain = "conv2d_int8+requant32+pwl+dwconv2d_int8+requant32+conv2d_int8+requant32"
    rows = [{"name": "stem.conv1+stem.conv1:requant32+stem.act", "type": chain,
             "median_ms": 0.3}, {"name": "blocks.0.conv", "type": "bconv", "median_ms": 0.1}]
    lines = timing.format_steps("t", rows, None).splitlines()
    end = lines[1].index("ms") + 2
    assert [line[end - 5:end] for line in lines[2:4]] == ["0.300", "0.100"]
