"""Glue-kernel benchmark: the int8 stem convolution against the core's int8 MAC peak.

The stem is ResNet's 7x7 stride-2 convolution, 3 -> 64 channels on a 224x224 uint8 image
(118.0 M multiply-accumulates). For each ISA this CPU runs it reports the best time over
``repeats`` runs, the MAC rate, and that rate as a fraction of the peak int8 MAC rate of the
same number of cores (``_engine.int8_mac_peak``: vpmaddwd on AVX2, vpdpbusd on AVX-512 VNNI,
vmlal_s16 on NEON). The float32 stem (``conv2d_f32``) is timed alongside, then the int8 1x1
convolutions of ResNet-18's downsampling shortcuts, QuickNet's stem (3x3 stride 2, 3 -> 16,
prepared weights) and the elementwise int8 ops (requant, add_int8, pwl_int8) on a 56x56x64
tensor. ``--isa avx2`` on an AVX-512 machine times the AVX2 kernels.

    python -m bnnflow.bench.glue [--json FILE] [--repeats N] [--threads 1 2] [--size 224]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bnnflow import _engine, cpu

STEM_COUT, STEM_K, STEM_STRIDE, STEM_PAD = 64, 7, 2, 3
#: QuickNet's stem convolution: 3x3 stride 2 padding 1, 3 -> 16 channels (Cout, K, stride, pad).
QUICKNET_STEM = (16, 3, 2, 1)
#: (H = W, Cin, Cout) of the real-valued 1x1 downsample convolutions of a ResNet-18-like net.
POINTWISE = ((28, 64, 128), (14, 128, 256), (7, 256, 512))
# The elementwise int8 ops of a ResNet block at its largest activation (56x56x64).
ELTWISE_SHAPE = (1, 56, 56, 64)
ELTWISE_OPS = ("requant", "add_int8", "pwl_int8")


def stem_inputs(size: int = 224, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 image ``[1,size,size,3]``, int8 weights ``[64,7,7,3]``, bias and zero point
    (the ImageNet channel means in uint8 units), plus float32 twins for ``conv2d_f32``."""
    r = np.random.default_rng(seed)
    return {
        "x": r.integers(0, 256, (1, size, size, 3), dtype=np.uint8),
        "w": r.integers(-128, 128, (STEM_COUT, STEM_K, STEM_K, 3), dtype=np.int8),
        "bias": r.integers(-1000, 1000, STEM_COUT).astype(np.int32),
        "zp": np.array([124, 116, 104], np.int32),
        "xf": r.standard_normal((1, size, size, 3)).astype(np.float32),
        "wf": r.standard_normal((STEM_COUT, STEM_K, STEM_K, 3)).astype(np.float32),
        "bf": r.standard_normal(STEM_COUT).astype(np.float32),
        # requant32 of the int32 stem output to int8 (typical magnitudes of a converted stem)
        "M": r.integers(2**20, 2**21, STEM_COUT).astype(np.int32),
        "B": r.integers(-(2**36), 2**36, STEM_COUT).astype(np.int64),
        "s": np.full(STEM_COUT, 40, np.int32),
    }


def stem_macs(size: int = 224) -> int:
    """Multiply-accumulates of the stem: Ho·Wo·Cout·KH·KW·Cin."""
    out = (size + 2 * STEM_PAD - STEM_K) // STEM_STRIDE + 1
    return out * out * STEM_COUT * STEM_K * STEM_K * 3


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time in seconds of ``repeats`` calls, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mac_peak(isa: str) -> float | None:
    """Peak int8 MACs/s of one core on ``isa``; ``None`` for scalar (no SIMD MAC peak)."""
    return None if isa == "scalar" else float(_engine.int8_mac_peak(isa))


def bench_isa(
    isa: str, threads: int, inputs: dict[str, np.ndarray], repeats: int, peak: float | None
) -> dict[str, Any]:
    """Time the int8 and float32 stems on one ISA and thread count; for int8 also the
    requant32 to int8 after it and the fused ``conv2d_int8_requant`` doing both."""
    i = inputs
    prepared = _engine.prepare_conv2d_int8_weights(i["w"], i["bias"], i["zp"], isa=isa)

    def int8_stem() -> object:
        return _engine.conv2d_int8(
            i["x"], i["w"], i["bias"], i["zp"], STEM_STRIDE, STEM_PAD, isa=isa, threads=threads
        )

    def f32_stem() -> object:
        return _engine.conv2d_f32(
            i["xf"], i["wf"], i["bf"], STEM_STRIDE, STEM_PAD, isa=isa, threads=threads
        )

    acc = int8_stem()

    def requant() -> object:
        return _engine.requant32(acc, i["M"], i["B"], i["s"], isa=isa, threads=threads)

    def fused_stem() -> object:
        return _engine.conv2d_int8_requant(i["x"], prepared, i["M"], i["B"], i["s"], STEM_STRIDE,
                                           STEM_PAD, isa=isa, threads=threads)

    macs = stem_macs(i["x"].shape[1])
    t8, tf = best_time(int8_stem, repeats), best_time(f32_stem, repeats)
    tq, tfused = best_time(requant, repeats), best_time(fused_stem, repeats)
    row: dict[str, Any] = {
        "isa": isa,
        "threads": threads,
        "int8_stem_ms": t8 * 1e3,
        "int8_stem_gmacs": macs / t8 / 1e9,
        "requant32_ms": tq * 1e3,
        "fused_stem_ms": tfused * 1e3,
        "f32_stem_ms": tf * 1e3,
        "f32_stem_gflops": 2 * macs / tf / 1e9,
        "peak_gmacs_per_core": None if peak is None else peak / 1e9,
        "fraction_of_peak": None if peak is None else macs / t8 / (peak * threads),
    }
    return row


def bench_quicknet_stem(
    isa: str, threads: int, x: np.ndarray, repeats: int, peak: float | None
) -> dict[str, Any]:
    """Time QuickNet's int8 stem convolution (``QUICKNET_STEM``) on the uint8 image ``x``,
    weights prepared once as the runtime binds them."""
    cout, k, stride, pad = QUICKNET_STEM
    r = np.random.default_rng(3)
    w = r.integers(-128, 128, (cout, k, k, 3), dtype=np.int8)
    prepared = _engine.prepare_conv2d_int8_weights(
        w, r.integers(-1000, 1000, cout).astype(np.int32), np.array([124, 116, 104], np.int32),
        isa=isa,
    )
    out = (x.shape[1] + 2 * pad - k) // stride + 1
    macs = out * out * cout * k * k * 3
    t = best_time(lambda: _engine.conv2d_int8(x, prepared, stride, pad, isa=isa,
                                              threads=threads), repeats)
    return {
        "isa": isa,
        "threads": threads,
        "ms": t * 1e3,
        "gmacs": macs / t / 1e9,
        "fraction_of_peak": None if peak is None else macs / t / (peak * threads),
    }


def bench_pointwise(isa: str, threads: int, repeats: int, peak: float | None) -> list[dict]:
    """Time the int8 1x1 convolutions of ``POINTWISE`` (int8 input, weights packed per call)."""
    r = np.random.default_rng(1)
    rows = []
    for h, cin, cout in POINTWISE:
        x = r.integers(-128, 128, (1, h, h, cin), dtype=np.int8)
        w = r.integers(-128, 128, (cout, 1, 1, cin), dtype=np.int8)
        bias, zp = np.zeros(cout, np.int32), np.zeros(cin, np.int32)

        def conv(x=x, w=w, bias=bias, zp=zp) -> object:
            return _engine.conv2d_int8(x, w, bias, zp, isa=isa, threads=threads)

        t = best_time(conv, repeats)
        macs = h * h * cin * cout
        rows.append(
            {
                "isa": isa,
                "threads": threads,
                "shape": [h, h, cin, cout],
                "ms": t * 1e3,
                "gmacs": macs / t / 1e9,
                "fraction_of_peak": None if peak is None else macs / t / (peak * threads),
            }
        )
    return rows


def eltwise_inputs(shape: tuple[int, ...] = ELTWISE_SHAPE, seed: int = 2) -> dict[str, np.ndarray]:
    """Two int8 tensors and per-channel fixed-point parameters of a typical converted model."""
    r = np.random.default_rng(seed)
    c = shape[-1]
    return {
        "a": r.integers(-128, 128, shape, dtype=np.int8),
        "b": r.integers(-128, 128, shape, dtype=np.int8),
        "M": r.integers(1000, 30000, c).astype(np.int16),
        "M2": r.integers(-3000, 3000, c).astype(np.int16),
        "B": r.integers(-4096, 4096, c).astype(np.int32),
        "s": np.full(c, 15, np.int32),
        "t": r.integers(-20, 20, c).astype(np.int32),
    }


def bench_eltwise(
    isa: str, threads: int, repeats: int, inputs: dict[str, np.ndarray]
) -> list[dict]:
    """Best time of each op of ``ELTWISE_OPS`` on ``inputs`` (a binding call each, the output
    allocation included)."""
    i = inputs
    calls = {
        "requant": lambda: _engine.requant(i["a"], i["M"], i["B"], i["s"], isa=isa,
                                           threads=threads),
        "add_int8": lambda: _engine.add_int8(i["a"], i["b"], i["M"], i["M2"], i["B"], i["s"],
                                             isa=isa, threads=threads),
        "pwl_int8": lambda: _engine.pwl_int8(i["a"], i["t"], i["M"], i["B"], i["M2"], i["B"],
                                             i["s"], isa=isa, threads=threads),
    }
    return [{"isa": isa, "threads": threads, "op": op, "shape": list(i["a"].shape),
             "us": best_time(calls[op], repeats) * 1e6} for op in ELTWISE_OPS]


def run(
    isas: Sequence[str] | None = None,
    threads: Sequence[int] = (1,),
    size: int = 224,
    repeats: int = 10,
) -> dict[str, Any]:
    """Benchmark every ISA in ``isas`` (default: all this CPU runs) at each thread count."""
    isas = list(isas or cpu.supported_isas())
    inputs, elt_inputs = stem_inputs(size), eltwise_inputs()
    rows, pointwise, eltwise, quicknet = [], [], [], []
    for isa in isas:
        peak = mac_peak(isa)
        reps = 1 if isa == "scalar" else repeats
        rows.extend(bench_isa(isa, n, inputs, reps, peak) for n in threads)
        for n in threads:
            quicknet.append(bench_quicknet_stem(isa, n, inputs["x"], reps, peak))
            pointwise.extend(bench_pointwise(isa, n, reps, peak))
            eltwise.extend(bench_eltwise(isa, n, 10 * reps, elt_inputs))
    return {
        "benchmark": "int8 stem conv 7x7 s2 3->64",
        "image": [1, size, size, 3],
        "macs": stem_macs(size),
        "machine": platform.processor() or platform.machine(),
        "cpu_features": cpu.cpu_features(),
        "results": rows,
        "quicknet_stem": quicknet,
        "pointwise_1x1": pointwise,
        "eltwise": eltwise,
    }


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table of the results."""
    lines = [
        "| ISA | threads | int8 stem ms | GMAC/s | peak GMAC/s/core | % of peak | "
        "+ requant32 ms | fused stem+requant ms | f32 stem ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        peak = "-" if r["peak_gmacs_per_core"] is None else f"{r['peak_gmacs_per_core']:.1f}"
        frac = "-" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.0f} %"
        lines.append(
            f"| {r['isa']} | {r['threads']} | {r['int8_stem_ms']:.2f} | "
            f"{r['int8_stem_gmacs']:.1f} | {peak} | {frac} | {r['requant32_ms']:.2f} | "
            f"{r['fused_stem_ms']:.2f} | {r['f32_stem_ms']:.2f} |"
        )
    lines += [
        "",
        "| ISA | threads | QuickNet int8 stem (3x3 s2, 3 -> 16) ms | GMAC/s | % of peak |",
        "|---|---|---|---|---|",
    ]
    for r in report["quicknet_stem"]:
        frac = "-" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.0f} %"
        lines.append(f"| {r['isa']} | {r['threads']} | {r['ms']:.3f} | {r['gmacs']:.1f} | {frac} |")
    lines += [
        "",
        "| ISA | threads | 1x1 conv HxW, Cin -> Cout | ms | GMAC/s | % of peak |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["pointwise_1x1"]:
        h, _, cin, cout = r["shape"]
        frac = "-" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.0f} %"
        lines.append(
            f"| {r['isa']} | {r['threads']} | {h}x{h}, {cin} -> {cout} | {r['ms']:.3f} | "
            f"{r['gmacs']:.1f} | {frac} |"
        )
    lines += ["", "| ISA | threads | int8 op, 56x56x64 | µs |", "|---|---|---|---|"]
    lines += [f"| {r['isa']} | {r['threads']} | {r['op']} | {r['us']:.1f} |"
              for r in report["eltwise"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints a Markdown table, optionally writes JSON."""
    p = argparse.ArgumentParser(
        prog="python -m bnnflow.bench.glue", description=__doc__.split("\n")[0]
    )
    p.add_argument("--json", help="write the full report to this file")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per case (best is kept)")
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts")
    p.add_argument("--size", type=int, default=224, help="image height and width")
    p.add_argument("--isa", nargs="+", help="ISAs to run (default: every supported one)")
    a = p.parse_args(argv)
    if a.repeats < 1 or a.size < STEM_K or min(a.threads) < 1:
        p.error("--repeats and --threads must be >= 1, --size >= 7")
    report = run(a.isa, a.threads, a.size, a.repeats)
    print(format_table(report))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
