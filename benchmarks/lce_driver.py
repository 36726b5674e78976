"""Larq Compute Engine peer timings (run with .peers/lce/bin/python; scripts/peers-env.sh lce).

Models: larq-zoo ``BiRealNet`` and ``QuickNet`` with ``weights=None`` (random init; timing does
not depend on weight values), input ``B x 224 x 224 x 3`` float32 with a static batch ``B``,
converted with ``larq_compute_engine.convert_keras_model`` (float in, float out, target arm —
the only target that runs on a CPU; on x86 it means LCE's portable C++ kernels), then run with
``larq_compute_engine.testing.Interpreter(flatbuffer, num_threads=N, use_indirect_bgemm=True,
use_xnnpack=True)`` — the fastest x86 setting (``--setting default`` times LCE's defaults
instead, about 6x slower, as engine ``lce-default``). The timed call is one ``Invoke`` of
the whole batch, including the copy of the input in and the logits out. Usage::

    .peers/lce/bin/python benchmarks/lce_driver.py --threads 1,2 --batch 1,8 --json out/lce.json
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil as bu
import numpy as np

MODELS = ("birealnet", "quicknet")
SETTINGS = {
    "best": {"use_indirect_bgemm": True, "use_xnnpack": True},
    "default": {"use_indirect_bgemm": False, "use_xnnpack": False},
}


def keras_model(name: str, batch: int):  # -> tf.keras.Model
    """A larq-zoo model with random weights and a static ``batch x 224 x 224 x 3`` input."""
    import larq_zoo as lqz
    import tensorflow as tf

    factory = {"birealnet": lqz.literature.BiRealNet, "quicknet": lqz.sota.QuickNet}[name]
    model = factory(input_shape=(224, 224, 3), weights=None)
    # larq-zoo's input_tensor field rejects a KerasTensor, so fix the batch by calling the
    # model on a static-batch input; the converter inlines the nested model.
    inp = tf.keras.Input(shape=(224, 224, 3), batch_size=batch)
    return tf.keras.Model(inp, model(inp), name=model.name)


def convert(name: str, batch: int) -> bytes:
    """``convert_keras_model`` of :func:`keras_model` (a TFLite flatbuffer with LCE ops)."""
    import larq_compute_engine as lce

    return lce.convert_keras_model(keras_model(name, batch))


def interpreter(flatbuffer: bytes, threads: int, setting: str):
    """An LCE ``testing.Interpreter`` with ``num_threads`` and the chosen kernel setting."""
    import larq_compute_engine as lce  # ``testing`` is an attribute, not a submodule

    return lce.testing.Interpreter(flatbuffer, num_threads=threads, **SETTINGS[setting])


def op_counts(flatbuffer: bytes) -> dict[str, int]:
    """Number of each operator in the flatbuffer (to show which ops are LCE binary ops)."""
    from larq_compute_engine.mlir.python.tflite_schema import BuiltinOperator, Model

    builtin = {v: k for k, v in vars(BuiltinOperator).items() if isinstance(v, int)}
    model = Model.GetRootAsModel(flatbuffer, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        custom = oc.CustomCode()
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        codes.append(custom.decode() if custom else builtin.get(code, f"builtin:{code}"))
    counts: dict[str, int] = {}
    sub = model.Subgraphs(0)
    for i in range(sub.OperatorsLength()):
        name = codes[sub.Operators(i).OpcodeIndex()]
        counts[name] = counts.get(name, 0) + 1
    return counts


def build_cases(args: argparse.Namespace, names: list[str]) -> list[bu.Case]:
    """Convert each (model, batch) once, one interpreter per thread count."""
    cases = []
    rng = np.random.default_rng(0)
    for name in names:
        for batch in args.batch:
            bu.log(f"converting {name} b={batch}")
            fb = convert(name, batch)
            if args.save_dir:
                os.makedirs(args.save_dir, exist_ok=True)
                with open(os.path.join(args.save_dir, f"{name}_b{batch}.tflite"), "wb") as f:
                    f.write(fb)
            ops = op_counts(fb)
            x = rng.standard_normal((batch, 224, 224, 3), dtype=np.float32)
            for threads in args.threads:
                interp = interpreter(fb, threads, args.setting).interpreter
                if tuple(interp.input_shapes[0]) != (batch, 224, 224, 3):
                    raise SystemExit(f"{name}: unexpected input shape {interp.input_shapes}")
                cases.append(
                    bu.Case(
                        model=name,
                        engine="lce" if args.setting == "best" else f"lce-{args.setting}",
                        threads=threads,
                        batch=batch,
                        run=lambda it=interp, xx=x: it.predict([xx]),
                        extra={
                            "setting": "LCE 0.16 Interpreter "
                            + ", ".join(f"{k}={v}" for k, v in SETTINGS[args.setting].items()),
                            "model_bytes": len(fb),
                            "ops": ops,
                        },
                    )
                )
    return cases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bu.common_args(parser, MODELS)
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="best")
    parser.add_argument("--save-dir", default=None, help="also write the .tflite files here")
    args = parser.parse_args(argv)
    names = bu.pick_models(args.models, MODELS)
    bu.log(f"uptime before: {bu.uptime_line()}")
    load_before = bu.check_load(args.max_load)
    cases = build_cases(args, names)
    bu.finish(bu.measure(cases, args.runs, args.warmup, args.burst), args.json, load_before)


if __name__ == "__main__":
    main()
