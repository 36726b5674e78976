"""Peak resident memory of a process that loads one model file and runs it once.

Runs in the engine's own environment (bnnflow: the main python, importing the bnnflow that
the caller runs; LCE: ``.peers/lce``; ONNX Runtime: ``.peers/ort``; torch: the main python)
and prints one JSON line::

    {"engine", "file", "model_bytes", "threads", "batch", "load_ms", "run_ms",
     "peak_rss_bytes", "baseline_rss_bytes"}

``peak_rss_bytes`` is the process's peak resident set after the run (the whole process:
interpreter, imported libraries, model, activations): ``VmHWM`` of ``/proc/self/status``.
Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries ``ru_maxrss`` across ``execve`` from
the forking parent's memory, so a probe started from a big parent (a python with torch
loaded) would report the parent's size; ``VmHWM`` belongs to the new address space only.
``ru_maxrss`` is used only where ``/proc`` is missing. ``baseline_rss_bytes`` is the same
before the engine's library is imported, so the difference is what the engine adds.

    python benchmarks/memprobe.py --engine bnnflow --file m.bnn --threads 1 --batch 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ENGINES = ("bnnflow", "lce", "onnxruntime", "torch")


def maxrss_bytes() -> int:
    """Peak resident bytes of this address space: ``VmHWM`` (else ``ru_maxrss``, in KiB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_and_run(engine: str, path: str, threads: int, batch: int) -> tuple[float, float]:
    """Load ``path`` with ``engine``, run one batch of random pixels; (load_ms, run_ms)."""
    import numpy as np

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    if engine == "bnnflow":
        from bnnflow.runtime import Interpreter

        interp = Interpreter(path, num_threads=threads)
        spec = interp.input_spec
        x = rng.integers(0, 256, (batch, *spec.shape[1:])).astype(spec.dtype)
        t1 = time.perf_counter()
        interp.run(x)
    elif engine == "lce":
        from lce_driver import interpreter

        with open(path, "rb") as f:
            fb = f.read()
        interp = interpreter(fb, threads, "best").interpreter
        x = rng.standard_normal(tuple(interp.input_shapes[0]), dtype=np.float32)
        t1 = time.perf_counter()
        interp.predict([x])
    elif engine == "onnxruntime":
        from ort_driver import session

        sess = session(path, threads)
        inp = sess.get_inputs()[0]
        x = rng.standard_normal(tuple(inp.shape), dtype=np.float32)
        t1 = time.perf_counter()
        sess.run(None, {inp.name: x})
    else:
        import torch

        torch.set_num_threads(threads)
        module = torch.jit.load(path)
        x = torch.rand(batch, 3, 224, 224).to(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        with torch.no_grad():
            module(x)
    t2 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", required=True, choices=ENGINES)
    p.add_argument("--file", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    a = p.parse_args(argv)
    if not os.path.isfile(a.file):
        p.error(f"--file {a.file!r} does not exist")
    baseline = maxrss_bytes()
    load_ms, run_ms = load_and_run(a.engine, a.file, a.threads, a.batch)
    print(json.dumps({
        "engine": a.engine, "file": a.file, "model_bytes": os.path.getsize(a.file),
        "threads": a.threads, "batch": a.batch, "load_ms": round(load_ms, 2),
        "run_ms": round(run_ms, 2), "peak_rss_bytes": maxrss_bytes(),
        "baseline_rss_bytes": baseline,
    }))


if __name__ == "__main__":
    main()
