"""Tests of bnnflow.bench.peers that need no peer environment (fake drivers in a tmp checkout),
plus opt-in checks against the real peer environments (``-m peers``)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from bnnflow.bench import peers
from bnnflow.bench.peers import (
    PeerEnvMissingError,
    PeerResultError,
    PeerRunError,
    parse_results,
    run_driver,
    run_peers,
)

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "model": "resnet18",
    "engine": "onnxruntime",
    "threads": 1,
    "batch": 1,
    "median_ms": 10.0,
    "min_ms": 9.5,
    "max_ms": 12.0,
    "runs": 30,
}

# A stand-in driver: writes one record per (engine, threads, batch) from its arguments,
# logs its argv to $FAKE_LOG, and fails on demand.
FAKE_DRIVER = textwrap.dedent(
    """
    import argparse, json, os, sys
    p = argparse.ArgumentParser()
    for a in ("--json", "--threads", "--batch", "--runs", "--warmup", "--burst", "--engines",
              "--max-load", "--models", "--save-dir", "--work-dir"):
        p.add_argument(a)
    a = p.parse_args()
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps(sys.argv[1:]) + "\\n")
    if os.environ.get("FAKE_FAIL"):
        print("boom: something broke", file=sys.stderr)
        sys.exit(3)
    engines = (a.engines or os.environ.get("FAKE_ENGINES", "lce")).split(",")
    recs = []
    for e in engines:
      for m in a.models.split(","):
        for v in ([e, e + "-variant"] if e.endswith("int8") else [e]):
            for t in a.threads.split(","):
                for b in a.batch.split(","):
                    recs.append({"model": m, "engine": v, "threads": int(t),
                                 "batch": int(b), "median_ms": 2.0, "min_ms": 1.0,
                                 "max_ms": 3.0, "runs": int(a.runs)})
    if os.environ.get("FAKE_BAD"):
        recs[0]["min_ms"] = 5.0
    print("progress line", file=sys.stderr)
    open(a.json, "w").write(json.dumps(recs))
    """
)


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake source checkout with fake drivers; no peer venvs yet."""
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "benchutil.py").write_text("")
    for name in ("lce_driver.py", "ort_driver.py", "torch_driver.py"):
        (bench / name).write_text(FAKE_DRIVER)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "argv.log"))
    monkeypatch.delenv("BNNFLOW_ROOT", raising=False)
    return tmp_path


def add_env(root: Path, env: str) -> None:
    """Make ``.peers/<env>/bin/python`` point at this interpreter."""
    bindir = root / ".peers" / env / "bin"
    bindir.mkdir(parents=True)
    os.symlink(sys.executable, bindir / "python")


def logged_argv(root: Path) -> list[list[str]]:
    return [json.loads(line) for line in (root / "argv.log").read_text().splitlines()]


def test_parse_results_accepts_valid_list() -> None:
    recs = parse_results(json.dumps([GOOD, {**GOOD, "threads": 2, "extra": "x"}]))
    assert [r["threads"] for r in recs] == [1, 2]
    assert recs[1]["extra"] == "x"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("median_ms"), "missing field 'median_ms'"),
        (lambda r: r.update(threads="1"), "field 'threads' has type str"),
        (lambda r: r.update(batch=True), "field 'batch' has type bool"),
        (lambda r: r.update(runs=0), "field 'runs' must be >= 1"),
        (lambda r: r.update(min_ms=11.0), "min_ms <= median_ms <= max_ms"),
        (lambda r: r.update(max_ms=float("nan")), "min_ms <= median_ms <= max_ms"),
        (lambda r: r.update(min_ms=0.0), "0 < min_ms"),
    ],
)
def test_parse_results_rejects_bad_record(mutate, message: str) -> None:
    rec = dict(GOOD)
    mutate(rec)
    with pytest.raises(PeerResultError, match="record 1") as err:
        parse_results(json.dumps([GOOD, rec]), "x.py")
    assert message in str(err.value)
    assert str(err.value).startswith("x.py:")


@pytest.mark.parametrize("text", ["not json", '{"model": 1}', "[1]"])
def test_parse_results_rejects_non_list(text: str) -> None:
    with pytest.raises(PeerResultError):
        parse_results(text)


def test_missing_env_names_the_setup_script(checkout: Path) -> None:
    with pytest.raises(PeerEnvMissingError) as err:
        run_peers(["lce"], root=checkout, echo=False)
    msg = str(err.value)
    assert "scripts/peers-env.sh lce" in msg
    assert str(checkout / ".peers" / "lce") in msg
    assert not (checkout / "argv.log").exists()  # nothing ran


def test_missing_env_fails_before_any_driver_runs(checkout: Path) -> None:
    add_env(checkout, "lce")
    with pytest.raises(PeerEnvMissingError, match=r"peers-env\.sh ort"):
        run_peers(["lce", "onnxruntime"], root=checkout, echo=False)
    assert not (checkout / "argv.log").exists()


def test_unknown_peer_and_bad_arguments(checkout: Path) -> None:
    with pytest.raises(ValueError, match="unknown peer 'tvm'"):
        run_peers(["tvm"], root=checkout)
    with pytest.raises(ValueError, match="empty selection"):
        run_peers([], root=checkout)
    add_env(checkout, "lce")
    with pytest.raises(ValueError, match="positive integers"):
        run_peers(["lce"], threads=[0], root=checkout)
    with pytest.raises(ValueError, match="burst"):
        run_peers(["lce"], burst=0, root=checkout)


def test_root_without_drivers_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PeerEnvMissingError, match=r"benchmarks/benchutil\.py"):
        peers.find_root(tmp_path)


def test_bnnflow_root_env_var(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNFLOW_ROOT", str(checkout))
    assert peers.find_root() == checkout.resolve()


def test_run_peers_end_to_end_with_fake_driver(checkout: Path) -> None:
    add_env(checkout, "lce")
    recs = run_peers(
        ["lce"], threads=[1, 2], batch=[1, 8], runs=4, warmup=0, burst=3, root=checkout,
        echo=False,
    )
    assert {(r["threads"], r["batch"]) for r in recs} == {(1, 1), (1, 8), (2, 1), (2, 8)}
    assert all(r["engine"] == "lce" and r["runs"] == 4 for r in recs)
    (argv,) = logged_argv(checkout)
    assert argv[argv.index("--threads") + 1] == "1,2"
    assert argv[argv.index("--warmup") + 1] == "0"
    assert argv[argv.index("--burst") + 1] == "3"
    assert "--engines" not in argv


def test_ort_peers_share_one_driver_call_and_drop_variants(checkout: Path) -> None:
    add_env(checkout, "ort")
    recs = run_peers(
        ["onnxruntime", "onnxruntime-int8"], threads=[1], batch=[1], root=checkout, echo=False
    )
    assert sorted(r["engine"] for r in recs) == ["onnxruntime", "onnxruntime-int8"]
    (argv,) = logged_argv(checkout)
    assert argv[argv.index("--engines") + 1] == "onnxruntime,onnxruntime-int8"
    recs = run_peers(
        ["onnxruntime-int8"], threads=[1], batch=[1], root=checkout, echo=False, keep_variants=True
    )
    assert sorted(r["engine"] for r in recs) == ["onnxruntime-int8", "onnxruntime-int8-variant"]


def test_models_restrict_each_peer(checkout: Path) -> None:
    add_env(checkout, "lce")
    recs = run_peers(
        ["lce"],
        threads=[1],
        batch=[1],
        root=checkout,
        echo=False,
        models={"lce": ["quicknet"]},
    )
    assert [r["model"] for r in recs] == ["quicknet"]
    (argv,) = logged_argv(checkout)
    assert argv[argv.index("--models") + 1] == "quicknet"
    recs = run_peers(["lce"], threads=[1], batch=[1], root=checkout, echo=False)
    assert sorted(r["model"] for r in recs) == ["birealnet", "quicknet"]


def test_models_errors(checkout: Path) -> None:
    add_env(checkout, "lce")
    with pytest.raises(ValueError, match="'resnet18'"):
        run_peers(["lce"], root=checkout, models={"lce": ["resnet18"]})
    with pytest.raises(ValueError, match="not among the selected peers"):
        run_peers(["lce"], root=checkout, models={"torch": ["resnet18"]})


def test_torch_peer_uses_current_interpreter(checkout: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_ENGINES", "torch")
    recs = run_peers(["torch"], threads=[1], batch=[1], root=checkout, echo=False)
    assert {r["engine"] for r in recs} == {"torch"}
    assert [r["model"] for r in recs] == list(peers.PEERS["torch"].models)
    assert peers.peer_python("torch") == Path(sys.executable)


def test_driver_failure_reports_stderr_tail(checkout: Path, monkeypatch) -> None:
    add_env(checkout, "lce")
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(PeerRunError, match="exit 3") as err:
        run_peers(["lce"], root=checkout, echo=False)
    assert "boom: something broke" in str(err.value)


def test_driver_bad_output_is_rejected(checkout: Path, monkeypatch) -> None:
    add_env(checkout, "lce")
    monkeypatch.setenv("FAKE_BAD", "1")
    with pytest.raises(PeerResultError, match=r"lce_driver\.py: record 0"):
        run_peers(["lce"], root=checkout, echo=False)


def test_run_driver_echoes_progress(checkout: Path, capsys) -> None:
    recs = run_driver(
        sys.executable,
        checkout / "benchmarks" / "lce_driver.py",
        ["--threads", "1", "--batch", "1", "--runs", "1", "--models", "m"],
    )
    assert len(recs) == 1
    assert "[lce_driver.py] progress line" in capsys.readouterr().err


def test_max_load_is_passed_through(checkout: Path) -> None:
    add_env(checkout, "lce")
    run_peers(["lce"], threads=[1], batch=[1], root=checkout, echo=False, max_load=0.25)
    (argv,) = logged_argv(checkout)
    assert argv[argv.index("--max-load") + 1] == "0.25"


@pytest.mark.peers
@pytest.mark.parametrize("peer", ["lce", "onnxruntime", "onnxruntime-int8"])
def test_real_peer_runs(peer: str) -> None:
    recs = run_peers([peer], threads=[1], batch=[1], runs=2, warmup=1, root=REPO, echo=False)
    assert recs
    assert all(r["engine"] == peers.PEERS[peer].engine for r in recs)
    assert {r["model"] for r in recs} == set(peers.PEERS[peer].models)


def test_save_dir_reaches_each_driver(checkout: Path, tmp_path: Path) -> None:
    add_env(checkout, "lce")
    add_env(checkout, "ort")
    save = tmp_path / "kept"
    run_peers(["lce", "onnxruntime-int8", "torch"], threads=[1], batch=[1], root=checkout,
              echo=False, save_dir=save)
    argvs = logged_argv(checkout)
    pairs = {(a[i], a[i + 1]) for a in argvs for i in range(len(a) - 1)}
    assert ("--save-dir", str(save / "lce_driver")) in pairs
    assert ("--work-dir", str(save / "ort_driver")) in pairs
    assert ("--save-dir", str(save / "torch_driver")) in pairs
    run_peers(["lce"], threads=[1], batch=[1], root=checkout, echo=False)
    assert not any("--save-dir" in a for a in logged_argv(checkout)[len(argvs):])


def test_peer_model_file(tmp_path: Path) -> None:
    from bnnflow.bench.peers import peer_model_file

    files = ["lce_driver/birealnet_b8.tflite", "ort_driver/resnet18_b1.onnx",
             "ort_driver/resnet18_b1_u8s8.onnx", "torch_driver/quicknet-float_b1.pt"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes(b"x")

    def rec(engine: str, model: str, batch: int = 1, **kw: str) -> dict:
        return {"engine": engine, "model": model, "batch": batch, **kw}

    assert peer_model_file(tmp_path, rec("lce", "birealnet", 8)) == tmp_path / files[0]
    assert peer_model_file(tmp_path, rec("onnxruntime", "resnet18")) == tmp_path / files[1]
    got = peer_model_file(tmp_path, rec("onnxruntime-int8", "resnet18",
                                        variant="onnxruntime-int8-u8s8"))
    assert got == tmp_path / files[2]
    assert peer_model_file(tmp_path, rec("onnxruntime-int8", "resnet18",
                                         variant="onnxruntime-int8-s8s8")) is None
    assert peer_model_file(tmp_path, rec("torch", "quicknet-float")) == tmp_path / files[3]
    assert peer_model_file(tmp_path, rec("lce", "quicknet")) is None
    assert peer_model_file(tmp_path, rec("bnnflow-int8", "quicknet")) is None
