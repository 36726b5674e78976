"""Regenerate the fixtures of the native runtime's C / C++ tests (tests/cpp/engine/data):
the two tiny example models as .bnn files, a fixed input batch for each and the logits the
numpy reference computes for it, and an 8x8 PGM digit with the example's expected top-1.

Run from the repository root: ``python tests/cpp/engine/make_fixtures.py``. The files are
committed, so the C++ tests need no Python.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bnnflow.format import save
from bnnflow.graph.examples import random_input, tiny_float_model, tiny_int8_model
from bnnflow.reference.interpreter import run

DATA = Path(__file__).parent / "data"
BATCH = 3


def _model(name: str, graph, tensors, seed: int) -> None:
    save(DATA / f"{name}.bnn", graph, tensors)
    x = random_input(np.random.default_rng(seed), graph, BATCH)
    (DATA / f"{name}.input").write_bytes(np.ascontiguousarray(x).tobytes())
    (DATA / f"{name}.logits").write_bytes(run(graph, tensors, x).astype("<f4").tobytes())


def main() -> None:
    DATA.mkdir(exist_ok=True)
    graph, tensors = tiny_int8_model(np.random.default_rng(4))
    _model("tiny_int8", graph, tensors, 1)
    _model("tiny_float", *tiny_float_model(np.random.default_rng(5)), 2)
    digit = np.random.default_rng(3).integers(0, 256, (8, 8), dtype=np.uint8)
    (DATA / "digit.pgm").write_bytes(b"P5\n8 8\n255\n" + digit.tobytes())
    logits = run(graph, tensors, digit.reshape(1, 8, 8, 1))[0]
    top = int(np.argmax(logits))
    names = graph.output_spec.class_names
    (DATA / "digit.expected").write_text(f"top-1: {top} \\({names[top]}\\)\n")


if __name__ == "__main__":
    main()
