"""What the first calls after another engine pay: bursts of calls after controlled gaps.

Usage (from the repository root, the engine built; docs/performance.md "First calls"):

    PYTHONPATH=src python benchmarks/first_call.py MODEL.bnn [--threads 1] [--burst 10]
        [--rounds 30] [--other OTHER.bnn] [--gaps none,rw32M,spin27ms,self1x10,...]

Each round runs, for every gap in turn (the order rotated per round, as `bnnflow bench`
rotates its cases), the gap and then a burst of `--burst` back-to-back `Interpreter.run` calls,
timing each call and counting the minor page faults it takes. Prints, per gap, the median time
of the k-th call of the bursts (k = 1..burst) and the mean faults of call 1 and of the others.

Gaps (N a count, U one of K / M for KiB / MiB, or us / ms for time):

- `none`: nothing (a long loop, as the native runner's);
- `memsetNU`: fill an N-byte buffer (4 KiB pages; a large memset may bypass the caches with
  non-temporal stores); `rwNU[xK]`: add 1 to every byte of it, K times (default 1), through
  the caches; `hugeNU`: the memset on a buffer in transparent huge pages (caches, not the
  TLB); `touchNU`: one byte per 4 KiB page (the TLB, only N/64 bytes of cache);
- `sleepNU`: the thread sleeps; `spinNU`: it spins in Python, touching almost no memory;
- `otherT[xK]`: K calls (default 10) of the `--other` model at T threads (another engine of
  the bench); `selfT[xK]`: the same with this model in a second interpreter.
"""

from __future__ import annotations

import argparse
import mmap
import re
import resource
import time
from collections.abc import Callable

import numpy as np

from bnnflow.runtime import Interpreter

_SIZE = {"K": 1 << 10, "M": 1 << 20}
_TIME = {"us": 1e-6, "ms": 1e-3}
_GAP = re.compile(
    r"none|(?P<mem>memset|rw|huge|touch)(?P<n>\d+)(?P<size>[KM])(?:x(?P<rep>\d+))?"
    r"|(?P<idle>sleep|spin)(?P<t>\d+)(?P<unit>us|ms)|(?P<eng>other|self)(?P<thr>\d+)(?:x(?P<k>\d+))?"
)


def _buffer(n: int, huge: bool) -> np.ndarray:
    """n bytes of private anonymous memory, advised into huge pages or kept in 4 KiB ones
    (numpy itself advises huge pages for large arrays)."""
    n = -(-max(n, 1) // (2 << 20)) * (2 << 20)
    mm = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    mm.madvise(mmap.MADV_HUGEPAGE if huge else mmap.MADV_NOHUGEPAGE)
    b = np.frombuffer(mm, np.uint8)
    b.fill(1)
    return b


def _input(it: Interpreter) -> np.ndarray:
    """A random batch-1 input of the interpreter's dtype."""
    spec = it.input_spec
    rng = np.random.default_rng(0)
    shape = (1, *spec.shape[1:])
    if np.dtype(spec.dtype) == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(np.float32)


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def make_gap(spec: str, model: str, other: str | None) -> Callable[[], None]:
    """The gap named `spec` (module docstring) as a callable; SystemExit for a bad name."""
    m = _GAP.fullmatch(spec)
    if m is None:
        raise SystemExit(f"--gaps: {spec!r} is not none, memset|rw|huge|touchN(K|M)[xK], "
                         "sleep|spinN(us|ms) or other|selfT[xK]")
    if spec == "none":
        return lambda: None
    if m["mem"]:
        n = int(m["n"]) * _SIZE[m["size"]]
        kind, reps = m["mem"], int(m["rep"] or 1)
        if reps > 1 and kind != "rw":
            raise SystemExit(f"--gaps: {spec!r}: only rw takes a repeat count")
        buf = _buffer(n, huge=kind == "huge")[:n]

        def memory() -> None:
            if kind == "rw":
                for _ in range(reps):
                    np.add(buf, 1, out=buf)
            elif kind == "touch":
                buf[::4096] += 1
            else:
                buf.fill(7)

        return memory
    if m["idle"]:
        seconds = int(m["t"]) * _TIME[m["unit"]]
        return (lambda: time.sleep(seconds)) if m["idle"] == "sleep" else (lambda: _spin(seconds))
    path = model if m["eng"] == "self" else other
    if path is None:
        raise SystemExit(f"--gaps: {spec!r} needs --other")
    it = Interpreter(path, num_threads=int(m["thr"]))
    x, calls = _input(it), int(m["k"] or 10)
    it.run(x)

    def engine() -> None:
        for _ in range(calls):
            it.run(x)

    return engine


def measure(model: str, gaps: list[str], *, threads: int = 1, burst: int = 10, rounds: int = 30,
            other: str | None = None, steps: dict[str, np.ndarray] | None = None,
            ) -> dict[str, tuple[list[float], float, float]]:
    """Per gap: (median seconds of call k = 1..burst, mean faults of call 1, of the others).
    With `steps` (a dict, filled here) the calls run profiled and steps[gap] is the median
    seconds of every step at each call position, shape [burst, steps]."""
    if burst < 1 or rounds < 1:
        raise SystemExit("--burst and --rounds must be >= 1")
    fns = [make_gap(g, model, other) for g in gaps]
    it = Interpreter(model, num_threads=threads)
    x = _input(it)
    for _ in range(5):
        it.run(x)
    times = {g: [[] for _ in range(burst)] for g in gaps}
    faults = {g: [[] for _ in range(burst)] for g in gaps}
    per_step = {g: [[] for _ in range(burst)] for g in gaps}
    for r in range(rounds):
        for j in range(len(gaps)):
            g = gaps[(r + j) % len(gaps)]
            fns[(r + j) % len(gaps)]()
            for k in range(burst):
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0 = time.perf_counter()
                prof = it.profile(x) if steps is not None else it.run(x)
                t1 = time.perf_counter()
                if steps is not None:
                    per_step[g][k].append([sec for _, _, sec in prof])
                times[g][k].append(t1 - t0)
                faults[g][k].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    if steps is not None:
        steps.update({g: np.median(np.array(per_step[g]), axis=1) for g in gaps})
        steps["names"] = np.array(it.steps)
    out = {}
    for g in gaps:
        rest = [f for q in faults[g][1:] for f in q]
        out[g] = ([float(np.median(q)) for q in times[g]], float(np.mean(faults[g][0])),
                  float(np.mean(rest)) if rest else 0.0)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--burst", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--other", help="the model of the otherT gaps")
    ap.add_argument("--gaps", default="none,rw32M,touch32M,spin27ms,sleep27ms,self1x10")
    ap.add_argument("--steps", type=int, default=0, metavar="N",
                    help="profile the calls; list the N steps that lose most in calls 1-3")
    args = ap.parse_args(argv)
    gaps = args.gaps.split(",")
    if args.steps and "none" not in gaps:
        raise SystemExit("--steps needs the none gap (the reference)")
    steps: dict[str, np.ndarray] | None = {} if args.steps else None
    res = measure(args.model, gaps, threads=args.threads, burst=args.burst,
                  rounds=args.rounds, other=args.other, steps=steps)
    print(f"{args.model}: {args.threads} thread(s), burst {args.burst}, {args.rounds} rounds")
    for g, (med, first, rest) in res.items():
        ms = " ".join(f"{t * 1e3:.3f}" for t in med)
        print(f"{g:>11}: {ms}   faults call 1 {first:.1f}, others {rest:.1f}")
    if steps is not None:
        _print_steps(steps, gaps, args.steps)


def _print_steps(steps: dict[str, np.ndarray], gaps: list[str], top: int) -> None:
    """Per gap, the `top` steps with the largest excess of calls 1-3 over the none gap."""
    ref = np.median(steps["none"], axis=0)
    names = steps["names"]
    print("\nms over the none gap's step median (that median in brackets), calls 1, 2, 3:")
    for g in gaps:
        if g == "none":
            continue
        lead = steps[g][:3] - ref
        print(f"{g}: sum of steps {' '.join(f'{v * 1e3:+.3f}' for v in lead.sum(axis=1))}")
        for i in np.argsort(-lead.sum(axis=0))[:top]:
            d = " ".join(f"{v * 1e3:+.3f}" for v in lead[:, i])
            print(f"    {d}  ({ref[i] * 1e3:.3f})  {names[i][:70]}")


if __name__ == "__main__":
    main()
