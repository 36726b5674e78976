"""``bnnflow demo [--out DIR] [--epochs N]``: the whole pipeline on the built-in digits.

1. train FTBNN-small (stage 1: binary convs, float glue), then BNN-Clip stage 2 (int8
   data-flow fine-tune), and the float twin (real-valued convs) for comparison;
2. export stage 1 with the ``float`` data-flow and stage 2 with the ``int8`` data-flow;
3. check that each export agrees with its PyTorch eval-mode model (top-1 on the test split);
4. time the bnnflow engine (int8 and float data-flows) against PyTorch fp32 eval of the float
   twin and of the binary model itself: medians over repeated runs, batch 1 and batch 256;
5. print a table, write ``demo.json`` and the chart ``demo.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 12
BATCHES = (1, 256)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="train, export, check and time a BNN on digits")
    p.add_argument("--out", default="bnnflow-demo", metavar="DIR",
                   help="output directory (default: ./bnnflow-demo)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"stage-1 and float-twin epochs (default {DEFAULT_EPOCHS}); stage 2 "
                        "runs a third of them (at least 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for training and for both engines in the timing (default 1)")
    p.add_argument("--seconds", type=float, default=2.0,
                   help="time budget per timed configuration (default 2 s)")
    p.set_defaults(func=run)
    return p


def say(text: str) -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------------------
# 1. training
# ----------------------------------------------------------------------------------------

def train_all(out: Path, epochs: int, threads: int) -> dict[str, Path]:
    """Stage 1, stage 2 and the float twin; returns their ``last.pt`` paths.

    The demo owns its run directories: a second demo into the same ``out`` replaces them
    (``overwrite``).
    """
    from bnnflow.train import TrainConfig, train

    runs = {
        "stage1": TrainConfig(model="ftbnn_small", out=str(out / "stage1"), epochs=epochs,
                              threads=threads, overwrite=True),
        "stage2": TrainConfig(model="ftbnn_small", out=str(out / "stage2"), stage=2,
                              epochs=max(1, epochs // 3), init=str(out / "stage1" / "last.pt"),
                              threads=threads, overwrite=True),
        "float_twin": TrainConfig(model="ftbnn_small_float", out=str(out / "float_twin"),
                                  epochs=epochs, threads=threads, overwrite=True),
    }
    paths = {}
    for name, config in runs.items():
        say(f"\n== training {name}: {config.model}, stage {config.stage}, "
            f"{config.epochs} epochs")
        train(config, log=say)
        paths[name] = Path(config.out) / "last.pt"
    return paths


# ----------------------------------------------------------------------------------------
# 2-3. export and agreement
# ----------------------------------------------------------------------------------------

def export_both(paths: dict[str, Path], out: Path) -> dict[str, Any]:
    """Export stage 1 (float data-flow) and stage 2 (int8); returns models and infos."""
    from bnnflow.cli.cmd_export import export_model, input_shape
    from bnnflow.train import load_model

    exported = {}
    for dataflow, ckpt in (("float", paths["stage1"]), ("int8", paths["stage2"])):
        model, info = load_model(ckpt)
        target = out / f"ftbnn_small_{dataflow}.bnn"
        graph = export_model(model, info, str(target), dataflow, input_shape(info, None))
        say(f"exported {ckpt} -> {target} ({dataflow} data-flow, {len(graph.ops)} ops, "
            f"{target.stat().st_size:,} bytes)")
        exported[dataflow] = {"model": model, "info": info, "path": target}
    return exported


def test_inputs() -> tuple[Any, np.ndarray, np.ndarray]:
    """Digits test split: (NCHW float tensor, NHWC uint8 array, labels)."""
    import torch

    from bnnflow.train import load_data

    test = load_data("digits").test
    images, labels = test.fetch(torch.arange(len(test)))
    images = images.float()
    nhwc = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy()).astype(np.uint8)
    return images, nhwc, labels.numpy()


def to_dtype(nhwc_u8: np.ndarray, dtype: str) -> np.ndarray:
    return nhwc_u8 if dtype == "uint8" else nhwc_u8.astype(dtype)


def agreement(exported: dict[str, Any], threads: int) -> dict[str, Any]:
    """Top-1 agreement and accuracies of each export vs its PyTorch model."""
    import torch

    from bnnflow.runtime import Interpreter

    images, nhwc, labels = test_inputs()
    result = {}
    for dataflow, item in exported.items():
        interp = Interpreter(item["path"], num_threads=threads)
        item["interp"] = interp
        engine = interp.run(to_dtype(nhwc, interp.input_spec.dtype)).argmax(1)
        with torch.no_grad():
            torch_pred = item["model"].eval()(images).argmax(1).numpy()
        result[dataflow] = {
            "count": int(labels.size),
            "agreement": float((engine == torch_pred).mean()),
            "engine_accuracy": float((engine == labels).mean()),
            "pytorch_accuracy": float((torch_pred == labels).mean()),
        }
        r = result[dataflow]
        say(f"{dataflow:>5} export vs PyTorch: top-1 agreement {100 * r['agreement']:.2f} % "
            f"(accuracy engine {100 * r['engine_accuracy']:.2f} %, PyTorch "
            f"{100 * r['pytorch_accuracy']:.2f} %)")
    return result


# ----------------------------------------------------------------------------------------
# 4. timing
# ----------------------------------------------------------------------------------------

def median_ms(fn: Callable[[], Any], budget_s: float, min_runs: int = 5,
              max_runs: int = 2000) -> tuple[float, int]:
    """Median wall time (ms) of ``fn()`` over as many runs as fit ``budget_s`` (after one
    warm-up run), at least ``min_runs``."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < budget_s
                                    and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), len(times)


def timing(exported: dict[str, Any], twin_ckpt: Path, threads: int, budget: float
           ) -> list[dict[str, Any]]:
    """Latency medians of every engine at batch 1 and 256."""
    import torch

    from bnnflow.train import load_model

    torch.set_num_threads(threads)
    _, nhwc, _ = test_inputs()
    twin, _ = load_model(twin_ckpt)
    binary = exported["float"]["model"]
    contenders: dict[str, Callable[[int], Callable[[], Any]]] = {}
    for dataflow in ("int8", "float"):
        interp = exported[dataflow]["interp"]
        contenders[f"bnnflow {dataflow}"] = _engine_runner(interp, nhwc)
    contenders["PyTorch fp32 float twin"] = _torch_runner(twin, nhwc)
    contenders["PyTorch fp32 binary model"] = _torch_runner(binary, nhwc)
    rows = []
    for batch in BATCHES:
        for name, make in contenders.items():
            ms, runs = median_ms(make(batch), budget)
            rows.append({"engine": name, "batch": batch, "median_ms": ms, "runs": runs,
                         "images_per_s": 1000 * batch / ms})
            say(f"  {name:<27} batch {batch:>3}: {ms:9.3f} ms  ({runs} runs)")
    return rows


def _batch_of(nhwc: np.ndarray, batch: int) -> np.ndarray:
    reps = -(-batch // nhwc.shape[0])
    return np.ascontiguousarray(np.concatenate([nhwc] * reps)[:batch])


def _engine_runner(interp: Any, nhwc: np.ndarray) -> Callable[[int], Callable[[], Any]]:
    def make(batch: int) -> Callable[[], Any]:
        x = to_dtype(_batch_of(nhwc, batch), interp.input_spec.dtype)
        return lambda: interp.run(x)
    return make


def _torch_runner(model: Any, nhwc: np.ndarray) -> Callable[[int], Callable[[], Any]]:
    import torch

    model.eval()

    def make(batch: int) -> Callable[[], Any]:
        x = torch.from_numpy(_batch_of(nhwc, batch).transpose(0, 3, 1, 2).astype(np.float32))

        def go() -> Any:
            with torch.no_grad():
                return model(x)
        return go
    return make


# ----------------------------------------------------------------------------------------
# 5. report
# ----------------------------------------------------------------------------------------

def median_of(rows: list[dict[str, Any]], engine: str, batch: int) -> float:
    """The median (ms) timed for ``engine`` at ``batch``."""
    return next(r["median_ms"] for r in rows if r["batch"] == batch and r["engine"] == engine)


def table(rows: list[dict[str, Any]]) -> str:
    """Latency table: one line per engine, one column pair per batch size."""
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    base = {b: median_of(rows, "PyTorch fp32 binary model", b) for b in BATCHES}
    head = f"{'engine':<27}" + "".join(f" {'batch ' + str(b) + ' ms':>14} {'speed-up':>9}"
                                       for b in BATCHES)
    lines = [head, "-" * len(head)]
    for e in engines:
        cells = ""
        for b in BATCHES:
            ms = median_of(rows, e, b)
            cells += f" {ms:14.4f} {base[b] / ms:8.2f}x"
        lines.append(f"{e:<27}{cells}")
    lines.append("speed-up: relative to PyTorch fp32 eval of the same binary model")
    lines.append(dataflow_line(rows))
    return "\n".join(lines)


def dataflow_line(rows: list[dict[str, Any]]) -> str:
    """The BNN-Clip effect: float data-flow median / int8 data-flow median per batch size
    (> 1: the int8 data-flow is faster)."""
    ratios = ", ".join(
        f"{median_of(rows, 'bnnflow float', b) / median_of(rows, 'bnnflow int8', b):.2f}x "
        f"at batch {b}" for b in BATCHES)
    return f"int8 data-flow vs float data-flow (float ms / int8 ms): {ratios}"


def chart(rows: list[dict[str, Any]], agree: dict[str, Any], threads: int, path: Path
          ) -> None:
    """Bar chart of the latency medians (log scale), one panel per batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = list(dict.fromkeys(r["engine"] for r in rows))
    colors = ["#1f77b4", "#6baed6", "#ff7f0e", "#d62728"]
    fig, axes = plt.subplots(1, len(BATCHES), figsize=(11, 4.2))
    for ax, batch in zip(axes, BATCHES, strict=True):
        ms = [next(r["median_ms"] for r in rows if r["batch"] == batch and r["engine"] == e)
              for e in engines]
        bars = ax.barh(engines, ms, color=colors[:len(engines)])
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_title(f"batch {batch}")
        ax.set_xlabel("median ms per run (log scale, shorter is faster)")
        for bar, v in zip(bars, ms, strict=True):
            ax.text(v, bar.get_y() + bar.get_height() / 2, f" {v:.3g} ms", va="center",
                    fontsize=8)
        ax.set_xlim(min(ms) / 2, max(ms) * 6)
    fig.suptitle(f"FTBNN-small on 8x8 digits, {threads} thread(s) — top-1 agreement with "
                 f"PyTorch: int8 {100 * agree['int8']['agreement']:.2f} %, float "
                 f"{100 * agree['float']['agreement']:.2f} %", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from bnnflow.cli.main import UsageError

    if args.epochs < 1 or args.threads < 1 or args.seconds <= 0:
        raise UsageError("--epochs and --threads must be at least 1, --seconds positive")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    paths = train_all(out, args.epochs, args.threads)
    say("\n== export")
    exported = export_both(paths, out)
    say("\n== agreement on the digits test split")
    agree = agreement(exported, args.threads)
    say(f"\n== timing ({args.threads} thread(s), medians)")
    rows = timing(exported, paths["float_twin"], args.threads, args.seconds)
    say("\n" + table(rows))
    report = {"epochs": args.epochs, "threads": args.threads, "cpu_count": os.cpu_count(),
              "agreement": agree, "timing": rows,
              "models": {k: str(v["path"]) for k, v in exported.items()},
              "checkpoints": {k: str(v) for k, v in paths.items()},
              "seconds": time.perf_counter() - t0}
    (out / "demo.json").write_text(json.dumps(report, indent=2) + "\n")
    chart(rows, agree, args.threads, out / "demo.png")
    say(f"\noutputs in {out}/: demo.json, demo.png, ftbnn_small_int8.bnn, "
        f"ftbnn_small_float.bnn, checkpoints stage1/ stage2/ float_twin/ "
        f"({report['seconds']:.0f} s)")
    return 0
