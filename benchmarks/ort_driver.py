"""ONNX Runtime peer timings, fp32 and int8 (run with .peers/ort/bin/python; peers-env.sh ort).

Model: the plain-torch ResNet-18 of ``benchmarks/resnet18.py`` (random seeded weights),
exported with ``torch.onnx.export(..., opset_version=17, dynamo=False)`` at a static input
``B x 3 x 224 x 224`` (NCHW float32), one file per batch size.

- ``onnxruntime`` (fp32): the exported model as is.
- ``onnxruntime-int8``: ``quant_pre_process`` (shape inference + graph optimization), then
  ``quantize_static(per_channel=True, quant_format=QuantFormat.QDQ, weight_type=QInt8,
  calibrate_method=MinMax)`` calibrated on synthetic images (seeded normal noise, the
  statistics of a normalised image), with activations int8 (S8S8, ORT's default) and uint8
  (U8S8), timed as ``onnxruntime-int8-s8s8`` / ``onnxruntime-int8-u8s8``; the faster of the two
  is also reported as ``onnxruntime-int8``. Why both: on x86 without AVX512-VNNI, ORT 1.31
  leaves about half the S8S8 convolutions (those around the residual adds) in float, while
  U8S8 becomes all ``QLinearConv`` + ``QLinearAdd``; with VNNI, S8S8 is the fast one.

Sessions: ``CPUExecutionProvider``, ``graph_optimization_level=ORT_ENABLE_ALL``,
``intra_op_num_threads=N``, ``inter_op_num_threads=1``, sequential execution. The timed call
is one ``session.run`` of the whole batch. Usage::

    .peers/ort/bin/python benchmarks/ort_driver.py --threads 1,2 --batch 1,8 --json out/ort.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil as bu
import numpy as np

MODELS = ("resnet18",)
ENGINES = ("onnxruntime", "onnxruntime-int8")
QUANT_TYPES = {"int8": "s8s8", "uint8": "u8s8"}  # activation type -> engine suffix


def export_onnx(path: str, batch: int) -> None:
    """Export the seeded ResNet-18 to ONNX (opset 17, static ``batch x 3 x 224 x 224``)."""
    import torch
    from resnet18 import resnet18

    model = resnet18()
    x = torch.zeros(batch, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x,),
            path,
            input_names=["input"],
            output_names=["logits"],
            opset_version=17,
            dynamo=False,
        )


class SyntheticImages:
    """Calibration data: ``count`` seeded normal-noise batches of ``B x 3 x 224 x 224``."""

    def __init__(self, batch: int, count: int, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self._data = [
            {"input": rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)}
            for _ in range(count)
        ]
        self._it = iter(self._data)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._data)


def quantize(fp32_path: str, int8_path: str, batch: int, calib: int, qtype: str) -> None:
    """Static per-channel QDQ quantization of ``fp32_path`` into ``int8_path``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(SyntheticImages, CalibrationDataReader):
        pass

    pre = fp32_path.replace(".onnx", "_pre.onnx")
    quant_pre_process(fp32_path, pre)
    act = QuantType.QInt8 if qtype == "int8" else QuantType.QUInt8
    quantize_static(
        pre,
        int8_path,
        Reader(batch, calib),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=act,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )


def session(path: str, threads: int):  # -> onnxruntime.InferenceSession
    """A CPU session with all graph optimizations and ``threads`` intra-op threads."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def build_cases(args: argparse.Namespace, engines: list[str], workdir: str) -> list[bu.Case]:
    """Export (and quantize) once per batch; one session per engine and thread count."""
    import onnxruntime as ort

    cases = []
    rng = np.random.default_rng(0)
    for batch in args.batch:
        fp32 = os.path.join(workdir, f"resnet18_b{batch}.onnx")
        bu.log(f"exporting resnet18 b={batch}")
        export_onnx(fp32, batch)
        variants = []  # (engine, path, setting)
        if "onnxruntime" in engines:
            variants.append(("onnxruntime", fp32, "fp32"))
        if "onnxruntime-int8" in engines:
            for act in args.act_type:
                path = os.path.join(workdir, f"resnet18_b{batch}_{QUANT_TYPES[act]}.onnx")
                bu.log(f"quantizing resnet18 b={batch} {act} ({args.calib} calibration batches)")
                quantize(fp32, path, batch, args.calib, act)
                setting = f"static QDQ per-channel, activations {act}, weights int8, MinMax"
                variants.append((f"onnxruntime-int8-{QUANT_TYPES[act]}", path, setting))
        x = rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)
        for engine, path, setting in variants:
            for threads in args.threads:
                sess = session(path, threads)
                cases.append(
                    bu.Case(
                        model="resnet18",
                        engine=engine,
                        threads=threads,
                        batch=batch,
                        run=lambda s=sess, xx=x: s.run(None, {"input": xx}),
                        extra={
                            "setting": f"ORT {ort.__version__} ORT_ENABLE_ALL, {setting}",
                            "model_bytes": os.path.getsize(path),
                        },
                    )
                )
    return cases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bu.common_args(parser, MODELS)
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"subset of {ENGINES}")
    parser.add_argument("--calib", type=int, default=8, help="calibration batches")
    parser.add_argument(
        "--act-type", default="int8,uint8", help="int8 activation types to try: int8,uint8"
    )
    parser.add_argument("--work-dir", default=None, help="keep the .onnx files here")
    args = parser.parse_args(argv)
    bu.pick_models(args.models, MODELS)
    engines = [e for e in args.engines.split(",") if e]
    if not engines or any(e not in ENGINES for e in engines):
        raise SystemExit(f"--engines: choose from {list(ENGINES)}, got {args.engines!r}")
    args.act_type = [a for a in args.act_type.split(",") if a]
    if not args.act_type or any(a not in QUANT_TYPES for a in args.act_type):
        raise SystemExit(f"--act-type: choose from {list(QUANT_TYPES)}, got {args.act_type}")
    bu.log(f"uptime before: {bu.uptime_line()}")
    load_before = bu.check_load(args.max_load)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.work_dir or tmp
        os.makedirs(workdir, exist_ok=True)
        cases = build_cases(args, engines, workdir)
        records = bu.measure(cases, args.runs, args.warmup, args.burst)
    records = bu.add_best(records, "onnxruntime-int8-", "onnxruntime-int8")
    bu.finish(records, args.json, load_before)


if __name__ == "__main__":
    main()
