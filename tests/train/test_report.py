import json

import pytest

from bnnflow.train.report import RunResult, markdown_table, mean_std, read_run


def test_mean_std_is_sample_std():
    assert mean_std([0.9, 0.92, 0.94]) == pytest.approx((0.92, 0.02))
    assert mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError):
        mean_std([])


def test_read_run_takes_the_last_epoch(tmp_path):
    lines = [{"epoch": 1, "test_acc": 0.99, "seconds": 2.0},
             {"epoch": 2, "test_acc": 0.95, "seconds": 3.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "config.json").write_text(json.dumps({"calibration": {"test_acc": 0.9}}))
    r = read_run("g", 4, tmp_path)
    assert (r.test_acc, r.epochs, r.seconds, r.calib_acc, r.seed) == (0.95, 2, 5.0, 0.9, 4)


def test_markdown_table_rows_in_group_order():
    results = [RunResult("b", s, 3, acc, 10.0) for s, acc in ((1, 0.9), (0, 0.8))]
    results.append(RunResult("a", 0, 3, 1.0, 4.0))
    table = markdown_table(results, {"a": "first", "b": "second", "c": "absent"})
    rows = table.strip().splitlines()
    assert len(rows) == 4
    assert rows[2].startswith("| a | first | 3 | 100.00 ± 0.00 | s0: 100.00 | 4 |")
    assert "85.00 ± 7.07 | s0: 80.00, s1: 90.00 | 10 |" in rows[3]
