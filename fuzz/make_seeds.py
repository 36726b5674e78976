"""Write the seed corpus of the native loader's fuzz targets (docs/fuzzing.md) into a folder:
real .bnn files from the Python package, nothing committed.

- one small graph per op type (``bnnflow.graph.examples.op_case``), plus variants that reach
  other kernel paths (bconv pad modes / groups / epilogues / stride, int8 convs on int8 input,
  rank-2 and grouped packs);
- the two tiny example models (int8 and float data-flow);
- converted digits models (FTBNN at width 0.25, two block variants, both data-flows; a few
  tens of KB each).

Usage (from the repository root): ``PYTHONPATH=src python fuzz/make_seeds.py OUT_DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bnnflow.format import save
from bnnflow.graph.examples import MAKERS, op_case, tiny_float_model, tiny_int8_model

# (op type, op_case options): variants beyond each op's defaults.
VARIANTS: list[tuple[str, dict]] = [
    ("bconv", {"pad_mode": "one"}),
    ("bconv", {"pad_mode": "valid", "stride": 2}),
    ("bconv", {"kernel": 1, "epilogue": "int8", "clamp": (-5, 90)}),
    ("bconv", {"groups": 2, "kernel": 3}),
    ("bconv", {"epilogue": "packed", "out_groups": 2}),
    ("bdense", {"epilogue": "int8"}),
    ("bdense", {"epilogue": "packed"}),
    ("conv2d_int8", {"input_dtype": "int8", "stride": 2}),
    ("dwconv2d_int8", {"kernel": 5, "padding": 2}),
    ("pack", {"dtype": "float32"}),
    ("maxpool_int8", {"kernel": 3, "stride": 2, "padding": 1}),
    ("concat", {"dtype": "float32"}),
    ("channel_shuffle", {"dtype": "float32", "shuffle_groups": 4}),
    ("mul_f32", {"rank": 2}),
]


def _write(out: Path, name: str, graph, tensors) -> int:
    path = out / f"{name}.bnn"
    save(path, graph, tensors)
    return path.stat().st_size


def op_seeds(out: Path) -> int:
    n = 0
    for k, op in enumerate(sorted(MAKERS)):
        _write(out, f"op_{op}", *op_case(op, np.random.default_rng(k), h=5, w=4, c=6))
        n += 1
    for k, (op, options) in enumerate(VARIANTS):
        opts = dict(options)
        groups = opts.pop("groups", 1)
        graph, tensors = op_case(op, np.random.default_rng(100 + k), h=5, w=4, c=8,
                                 groups=groups, **opts)
        _write(out, f"op_{op}_v{k}", graph, tensors)
        n += 1
    return n


def model_seeds(out: Path) -> int:
    _write(out, "tiny_int8", *tiny_int8_model(np.random.default_rng(4)))
    _write(out, "tiny_float", *tiny_float_model(np.random.default_rng(5)))
    return 2


def converted_seeds(out: Path) -> int:
    import torch

    from bnnflow import nn as bnn
    from bnnflow.convert import convert
    from bnnflow.models import ftbnn_small

    n = 0
    builds = {
        "ftbnn": lambda: ftbnn_small(width=0.25),
        "ftbnn_rprelu_g2": lambda: ftbnn_small(width=0.25, groups=2, nonlinearity="rprelu",
                                               position="before_add", binary_downsample=True),
    }
    for name, build in builds.items():
        torch.manual_seed(1)
        model = build().eval()
        x = torch.randint(0, 241, (8, 1, 8, 8)).float()
        _write(out, f"digits_{name}_float", *convert(model, x[:1], "float"))
        bnn.enable_int8(model)
        bnn.calibrate(model, [x])
        bnn.freeze_int8(model)
        _write(out, f"digits_{name}_int8", *convert(model.eval(), x[:1], "int8"))
        n += 2
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-converted", action="store_true",
                        help="leave out the converted digits models (no torch needed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    n = op_seeds(args.out) + model_seeds(args.out)
    if not args.no_converted:
        n += converted_seeds(args.out)
    size = sum(p.stat().st_size for p in args.out.glob("*.bnn"))
    print(f"{n} seeds, {size} bytes in {args.out}")


if __name__ == "__main__":
    main()
