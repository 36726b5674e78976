"""Training curves: a stage-2 run continues the epoch axis of its stage-1 run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnnflow.cli.main import main
from bnnflow.train.plot import PlotError, curves_figure, load_runs, read_metrics


def _run(path: Path, stage: int, accs: list[float], init: str | None = None,
         config: bool = True) -> Path:
    path.mkdir(parents=True)
    lines = [json.dumps({"epoch": e, "stage": stage, "train_loss": 2.0 / e, "train_acc": a,
                         "test_acc": a, "lr": 1e-3, "seconds": 0.1})
             for e, a in enumerate(accs, start=1)]
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (path / "last.pt").write_bytes(b"")
    (path / "best.pt").write_bytes(b"")
    if config:
        (path / "config.json").write_text(json.dumps({"model": "m", "stage": stage,
                                                      "init": init}))
    return path


@pytest.fixture
def stages(tmp_path):
    s1 = _run(tmp_path / "s1", 1, [0.5, 0.8, 0.9, 0.85])
    s2 = _run(tmp_path / "s2", 2, [0.7, 0.88], init=str(s1 / "last.pt"))
    return s1, s2


def _xs(fig, panel: int) -> list[list[float]]:
    return [list(line.get_xdata()) for line in fig.axes[panel].lines
            if line.get_linestyle() != "--"]


def test_stage2_continues_after_stage1(stages):
    s1, s2 = stages
    runs = load_runs([s1, s2])
    assert [r.offset for r in runs] == [0, 4] and runs[1].parent == 0
    assert runs[1].start == "s1/last.pt"
    fig = curves_figure([s1, s2])
    for panel in (0, 1):
        assert _xs(fig, panel) == [[1, 2, 3, 4], [5, 6]]
        boundaries = [line for line in fig.axes[panel].lines if line.get_linestyle() == "--"]
        assert [list(b.get_xdata()) for b in boundaries] == [[4.5, 4.5]]
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes == ["s2 from s1/last.pt\n(epoch 4)"]
    assert fig.axes[1].get_legend().get_texts()[1].get_text() == "s2 (m, stage 2, after s1)"


def test_order_does_not_matter_with_init(stages):
    s1, s2 = stages
    assert [r.offset for r in load_runs([s2, s1])] == [4, 0]


def test_init_from_best_starts_at_the_best_epoch(tmp_path):
    s1 = _run(tmp_path / "s1", 1, [0.5, 0.9, 0.9, 0.85])
    s2 = _run(tmp_path / "s2", 2, [0.91], init=str(s1 / "best.pt"))
    assert [r.offset for r in load_runs([s1, s2])] == [0, 2]


def test_without_config_stage2_after_stage1_in_order(tmp_path):
    s1 = _run(tmp_path / "a", 1, [0.5, 0.8], config=False)
    s2 = _run(tmp_path / "b", 2, [0.9], config=False)
    assert [r.offset for r in load_runs([s1, s2])] == [0, 2]
    assert [r.offset for r in load_runs([s2, s1])] == [0, 0]


def test_unrelated_runs_side_by_side(tmp_path):
    a = _run(tmp_path / "a", 1, [0.5, 0.8])
    b = _run(tmp_path / "b", 1, [0.6, 0.7])
    other = _run(tmp_path / "other", 1, [0.6])
    c = _run(tmp_path / "c", 2, [0.9], init=str(other / "last.pt"))  # not in the plot
    runs = load_runs([a, b, c])
    assert [r.offset for r in runs] == [0, 0, 0] and all(r.parent is None for r in runs)
    fig = curves_figure([a, b, c])
    assert _xs(fig, 1) == [[1, 2], [1, 2], [1]] and not fig.axes[0].texts


def test_plot_command_writes_the_chained_png(stages, tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert main(["plot", *map(str, stages), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_metrics(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{oops\n{"epoch": 1}\n')
    with pytest.raises(PlotError, match="not JSON"):
        load_runs([tmp_path])


def test_last_line_cut_mid_write_is_skipped(tmp_path):
    record = {"epoch": 1, "train_loss": 1.0, "test_acc": 0.5}
    (tmp_path / "metrics.jsonl").write_text(json.dumps(record) + '\n{"epoch": 2, "tr')
    assert read_metrics(tmp_path) == [record]
