"""Tests of bnnflow.bench.plot (grouped bar chart of benchmark records)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from bnnflow.bench.peers import PeerResultError
from bnnflow.bench.plot import plot_results


def records() -> list[dict]:
    out = []
    for engine, model, base in [
        ("lce", "birealnet", 27.0),
        ("lce", "quicknet", 26.0),
        ("onnxruntime", "resnet18", 40.0),
        ("torch", "resnet18", 45.0),
    ]:
        for threads in (1, 2):
            for batch in (1, 8):
                med = base * batch / threads
                out.append(
                    {
                        "model": model,
                        "engine": engine,
                        "threads": threads,
                        "batch": batch,
                        "median_ms": med,
                        "min_ms": med * 0.95,
                        "max_ms": med * 1.1,
                        "runs": 10,
                    }
                )
    return out


def read_png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_writes_png_with_one_panel_per_batch_and_threads(tmp_path: Path) -> None:
    out = plot_results(records(), tmp_path / "sub" / "bench.png", title="preliminary")
    w, h = read_png_size(out)
    single = plot_results(
        [r for r in records() if r["batch"] == 1 and r["threads"] == 1], tmp_path / "one.png"
    )
    w1, h1 = read_png_size(single)
    assert w > 1.5 * w1  # two thread columns
    assert h > 1.5 * h1  # two batch rows


def test_plot_draws_bars_with_medians(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.axes

    seen: list[tuple[float, float]] = []
    real_bar = matplotlib.axes.Axes.bar

    def spy(self, x, height, *args, **kwargs):
        seen.append((round(float(x), 3), float(height)))
        return real_bar(self, x, height, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", spy)
    recs = [r for r in records() if r["threads"] == 1 and r["batch"] == 8]
    plot_results(recs, tmp_path / "b.png", per_image=True)
    heights = sorted(h for _, h in seen)
    assert heights == pytest.approx(sorted([27.0, 26.0, 40.0, 45.0]))  # per image: / 8
    # resnet18 (third model) has two engines side by side around x = 2
    xs = sorted(x for x, _ in seen if 1.5 < x < 2.5)
    assert len(xs) == 2 and xs[0] < 2 < xs[1]


def test_plot_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        plot_results([], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\.png"):
        plot_results(records(), tmp_path / "x.svg")
    bad = records()
    del bad[3]["median_ms"]
    with pytest.raises(PeerResultError, match="record 3"):
        plot_results(bad, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
