"""Binary-convolution kernel benchmark against this CPU's xor + popcount ceiling.

For each 3x3 binary convolution of ResNet-18 at 224x224 (or the shapes given with
``--shape``) it reports the median time of repeated ``bconv2d`` calls, the rate in G binary
MACs/s (``Ho·Wo·Cout·KH·KW·Cin`` per call) and the ratio to the ceiling: the best xor +
popcount + accumulate rate of the engine's micro-kernels for the ISA the kernels run
(``xor_popcount_ceiling``: one operand in L1, the best method of that ISA, one core; with
``--isa avx2`` on an AVX-512 CPU, AVX2's), times the thread count. Every ISA's ceilings are
printed first.

    python -m bnnflow.bench.kernels [--threads N [N ...]] [--json FILE]
                                    [--shape KxK,CIN,COUT,HxW[,stride] ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bnnflow import _engine

# (kernel, cin, cout, input size, stride): the binary 3x3 convolutions of ResNet-18 at 224x224.
RESNET18_LAYERS: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 64, 64, 56, 1),
    (3, 64, 128, 56, 2),
    (3, 128, 128, 28, 1),
    (3, 128, 256, 28, 2),
    (3, 256, 256, 14, 1),
    (3, 256, 512, 14, 2),
    (3, 512, 512, 7, 1),
)


@dataclass
class Result:
    """One shape at one thread count."""

    shape: str
    threads: int
    isa: str
    kernel: str
    epilogue: str
    median_ms: float
    gbmacs: float
    ceiling_gbmacs: float
    ceiling_method: str
    ratio: float
    speedup_vs_1_thread: float | None = None


def parse_shape(text: str) -> tuple[int, int, int, int, int]:
    """``KxK,CIN,COUT,HxW[,stride]`` -> (k, cin, cout, hw, stride); square kernels and inputs."""
    parts = text.split(",")
    if len(parts) not in (4, 5):
        raise argparse.ArgumentTypeError(f"shape {text!r}: expected KxK,CIN,COUT,HxW[,stride]")
    try:
        kh, kw = (int(v) for v in parts[0].lower().split("x"))
        h, w = (int(v) for v in parts[3].lower().split("x"))
        cin, cout = int(parts[1]), int(parts[2])
        stride = int(parts[4]) if len(parts) == 5 else 1
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"shape {text!r}: {err}") from None
    if kh != kw or h != w:
        raise argparse.ArgumentTypeError(f"shape {text!r}: only square kernels and inputs")
    if min(kh, cin, cout, h, stride) < 1:
        raise argparse.ArgumentTypeError(f"shape {text!r}: sizes must be positive")
    return kh, cin, cout, h, stride


def shape_name(k: int, cin: int, cout: int, hw: int, stride: int) -> str:
    return f"{k}x{k},{cin},{cout},{hw}x{hw},{stride}"


def measure_ceiling(isas: Sequence[str] | None = None) -> tuple[float, str, list[dict]]:
    """Best single-core xor + popcount rate over the methods of ``isas`` (default: every
    native ISA)."""
    chosen = list(_engine.supported_isas()) if isas is None else list(isas)
    rows = [r for isa in chosen for r in _engine.xor_popcount_ceiling(isa)]
    best = max(rows, key=lambda r: r["gbmacs"])
    return best["gbmacs"], f"{best['isa']}/{best['method']}", rows


def epilogue_args(kind: str, cout: int) -> dict:
    """Representative constants for each epilogue (the cost does not depend on the values)."""
    if kind == "int8":
        return {
            "epilogue": "int8",
            "multiplier": np.full(cout, 3, np.int16),
            "offset": np.zeros(cout, np.int32),
            "shift": np.full(cout, 2, np.int32),
        }
    if kind == "float":
        return {
            "epilogue": "float",
            "scale": np.full(cout, 0.5, np.float32),
            "bias": np.zeros(cout, np.float32),
        }
    if kind == "packed":
        return {"epilogue": "packed", "threshold": np.zeros(cout, np.int32)}
    return {"epilogue": "int32"}


def time_layer(
    shape: tuple[int, int, int, int, int],
    threads: int,
    isa: str | None,
    epilogue: str,
    repeats: int,
    min_seconds: float,
) -> tuple[float, str, str]:
    """Median seconds of one bconv2d call; also the ISA and micro-kernel that ran."""
    k, cin, cout, hw, stride = shape
    rng = np.random.default_rng(0)
    wg = -(-cin // 32)
    x = rng.integers(0, 2**32, (1, hw, hw, wg), dtype=np.uint64).astype(np.uint32)
    w = rng.integers(0, 2**32, (cout, k, k, wg), dtype=np.uint64).astype(np.uint32)
    if cin % 32:
        mask = np.uint32((1 << (cin % 32)) - 1)
        x[..., -1] &= mask
        w[..., -1] &= mask
    prepared = _engine.prepare_bconv_weights(w, cin, isa=isa)
    kwargs = {"stride": stride, "padding": k // 2, "threads": threads}
    kwargs.update(epilogue_args(epilogue, cout))
    for _ in range(3):
        _engine.bconv2d(x, prepared, **kwargs)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        _engine.bconv2d(x, prepared, **kwargs)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), prepared.isa, prepared.kernel


def kernel_isa(isa: str | None) -> str:
    """The ISA whose kernels run: ``isa``, or the active one (honours BNNFLOW_ISA)."""
    return isa if isa is not None else _engine.active_isa()


def run(args: argparse.Namespace) -> list[Result]:
    _, _, rows = measure_ceiling()
    for r in rows:
        print(f"ceiling  {r['isa']:>7} {r['method']:<24} {r['gbmacs']:8.1f} G binary MACs/s")
    isa = kernel_isa(args.isa)
    ceiling, method, _ = measure_ceiling([isa])
    print(f"ceiling ({isa}, the ISA timed; best method, one core): {ceiling:.1f} ({method})\n")
    results: list[Result] = []
    print(f"{'shape':<22} {'thr':>3} {'kernel':<18} {'median ms':>10} {'G/s':>8} {'ratio':>6}")
    for shape in args.shape or RESNET18_LAYERS:
        k, cin, cout, hw, stride = shape
        ho = (hw + 2 * (k // 2) - k) // stride + 1
        macs = ho * ho * cout * k * k * cin
        one_thread_s: float | None = None
        for threads in args.threads:
            med, isa, kernel = time_layer(
                shape, threads, args.isa, args.epilogue, args.repeats, args.min_seconds
            )
            if threads == 1:
                one_thread_s = med
            gbmacs = macs / med / 1e9
            res = Result(
                shape=shape_name(*shape),
                threads=threads,
                isa=isa,
                kernel=kernel,
                epilogue=args.epilogue,
                median_ms=med * 1e3,
                gbmacs=gbmacs,
                ceiling_gbmacs=ceiling * threads,
                ceiling_method=method,
                ratio=gbmacs / (ceiling * threads),
                speedup_vs_1_thread=(one_thread_s / med) if one_thread_s else None,
            )
            results.append(res)
            speed = f"  x{res.speedup_vs_1_thread:.2f}" if threads > 1 and one_thread_s else ""
            print(
                f"{res.shape:<22} {threads:>3} {kernel:<18} {res.median_ms:>10.3f} "
                f"{gbmacs:>8.1f} {res.ratio:>6.2f}{speed}"
            )
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bnnflow.bench.kernels",
        description="Time the binary convolution kernels against the xor+popcount ceiling.",
    )
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts (1)")
    p.add_argument("--json", metavar="FILE", help="also write the results as a JSON list")
    p.add_argument(
        "--shape",
        type=parse_shape,
        action="append",
        metavar="KxK,CIN,COUT,HxW[,stride]",
        help="a layer to time (repeatable; default: the ResNet-18 3x3 layers)",
    )
    p.add_argument(
        "--isa",
        default=None,
        choices=list(_engine.supported_isas()),
        help="ISA to run, one this CPU supports (default: the active one)",
    )
    p.add_argument(
        "--epilogue",
        choices=("int32", "float", "int8", "packed"),
        default="int8",
        help="fused epilogue (default int8, the BNN-Clip data-flow)",
    )
    p.add_argument("--repeats", type=int, default=50, help="at least this many timed calls")
    p.add_argument("--min-seconds", type=float, default=0.5, help="and at least this long")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if min(args.threads) < 1:
        parser().error("--threads must be >= 1")
    results = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
