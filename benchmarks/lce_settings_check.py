"""LCE against itself: the same ``.tflite`` file on LCE's interpreter with and without the
XNNPack delegate (docs/import.md, *int8 inference: not imported, and why*).

Runs in the LCE peer environment on files and inputs written by ``lce_make.py``::

    .peers/lce/bin/python benchmarks/lce_make.py --models quicknet --kinds int8 --size 64 \\
        --random 2 --out out/int8
    .peers/lce/bin/python benchmarks/lce_settings_check.py out/int8/quicknet_int8.tflite

For an int8-inference file (int8 input and output) it prints how many inputs and int8 logits
differ between the two settings and by how many quantisation steps at most; for a float file,
on how many inputs the logits agree within 10⁻³ of their spread (lce_import_check.py's TOL).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lce_make import io_quantization


def outputs(fb: bytes, x: np.ndarray, xnnpack: bool) -> np.ndarray:
    import larq_compute_engine as lce

    it = lce.testing.Interpreter(fb, num_threads=1, use_indirect_bgemm=True,
                                 use_xnnpack=xnnpack)
    return np.concatenate([np.asarray(it.predict(x[i : i + 1])).reshape(1, -1)
                           for i in range(len(x))])


def compare(path: str) -> str:
    with open(path, "rb") as f:
        fb = f.read()
    x = np.load(path[: -len(".tflite")] + ".npz")["x"].astype(np.float32)
    int8 = os.path.basename(path).endswith("_int8.tflite")
    if int8:
        (scale, zp), _ = io_quantization(fb)
        x = np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
    on, off = outputs(fb, x, True), outputs(fb, x, False)
    if int8:
        d = on.astype(np.int64) - off.astype(np.int64)
        return (f"{path}: {int((d != 0).any(axis=1).sum())} of {len(x)} inputs differ, "
                f"{100 * float((d != 0).mean()):.1f} % of the int8 logits, up to "
                f"{int(np.abs(d).max())} steps (XNNPack on vs off)")
    spread = float((on - on.mean(axis=0)).std())
    ok = np.abs(on - off).max(axis=1) <= 1e-3 * spread
    return f"{path}: {int(ok.sum())} of {len(x)} inputs agree within 1e-3 of the spread"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for p in sys.argv[1:]:
        print(compare(p), flush=True)
