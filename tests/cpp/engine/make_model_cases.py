"""Write the whole-model cases of the native runtime's ctest run (``model_case.*``): converted
models as .bnn files, an input batch for each and the logits the numpy reference computes.

    python tests/cpp/engine/make_model_cases.py OUTDIR [MODEL ...]
    python tests/cpp/engine/make_model_cases.py --list    (the case names, one a line)

MODEL is one of ``digits`` (ftbnn_small trained for one epoch of stage 1 and one of stage 2 on
the digits data set; the input: the first test images), ``birealnet18``, ``quicknet`` and
``ftbnn18`` (random weights and BN statistics, calibrated stage 2, at 64x64 with 10 classes;
the input: random images), ``birealnet18_same``, ``quicknet_same`` (the same models with
TensorFlow "same" padding: every windowed op whose output size TF SAME keeps gets TF's padding,
which at stride 2 on the even maps is the asymmetric ``[0, 0, 1, 1]``: format-version-2 files;
bconv, the max pool and the int8/float stems and depthwise convs), ``ftbnn_shuffle``
(ftbnn_small with groups=2, width=2, shuffle, bias, binary downsample) and ``reactnet_concat``
(reactnet_small with the concat downsample), both random at 8x8; all by default. Each is
exported in both data-flows; for every
``<model>_<dataflow>`` the script writes, into OUTDIR:

- ``<case>.bnn``: the converted model;
- ``<case>.input``: the batch, raw C-order NHWC bytes of the model's input dtype (uint8 for
  int8, float32 for float; the same pixels in both);
- ``<case>.logits``: the reference's float32 logits ``[batch, classes]``, raw little-endian.

tests/cpp/engine/run_model_case.c runs each file on the C API and compares (CMake wires it up
as ctest tests, also under qemu-aarch64; docs/development.md). Needs torch and bnnflow.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Images per case (qemu-aarch64 runs every case: keep it small).
BATCH = 4
#: Input side of the ImageNet models (their 32x downsampling leaves a 2x2 map).
SIZE = 64
CLASSES = 10
DATAFLOWS = ("int8", "float")


def _digits(tmp: Path) -> tuple[dict[str, object], np.ndarray]:
    """ftbnn_small after 1 + 1 epochs on digits (the stage-2 model), and test images."""
    import torch

    from bnnflow.train import TrainConfig, load_data, load_model, train

    s1, s2 = tmp / "s1", tmp / "s2"
    train(TrainConfig(model="ftbnn_small", out=str(s1), epochs=1, quiet=True, threads=1))
    train(TrainConfig(model="ftbnn_small", out=str(s2), epochs=1, stage=2,
                      init=str(s1 / "last.pt"), quiet=True, threads=1))
    model, _ = load_model(s2 / "last.pt")
    images, _ = load_data("digits").test.fetch(torch.arange(BATCH))
    pixels = images.permute(0, 2, 3, 1).numpy().astype(np.uint8)
    return {"int8": model, "float": model}, pixels


def _imagenet(name: str, size: int = SIZE, channels: int = 3, **kwargs: object
              ) -> Callable[[Path], tuple[dict[str, object], np.ndarray]]:
    """``name`` (builder ``kwargs``) at ``size`` x ``size``, random weights: calibrated for
    int8, as built for float."""

    def make(tmp: Path) -> tuple[dict[str, object], np.ndarray]:
        from bnnflow.bench.models import build_model, calibrate_int8, random_images

        args = {"num_classes": CLASSES, **kwargs}
        if channels != 3:
            args["in_channels"] = channels
        calibration = random_images(BATCH, size, channels, seed=1)
        int8 = calibrate_int8(build_model(name, 0, **args), calibration)
        return ({"int8": int8, "float": build_model(name, 0, **args)},
                random_images(BATCH, size, channels, seed=2))

    return make


MODELS: dict[str, Callable[[Path], tuple[dict[str, object], np.ndarray]]] = {
    "digits": _digits,
    "birealnet18": _imagenet("birealnet18"),
    "quicknet": _imagenet("quicknet"),
    "birealnet18_same": _imagenet("birealnet18"),
    "quicknet_same": _imagenet("quicknet"),
    "ftbnn18": _imagenet("ftbnn18"),
    # channel_shuffle, learnable sign thresholds, shifted PReLUs, grouped + binary downsample
    "ftbnn_shuffle": _imagenet("ftbnn_small", 8, 1, groups=2, width=2.0, shuffle=True,
                               bias=True, binary_downsample=True),
    # RSign, RPReLU and torch.cat (concat) downsampling
    "reactnet_concat": _imagenet("reactnet_small", 8, 1, downsample="concat"),
}


def tf_same(graph, tensors) -> int:
    """Give every windowed op TensorFlow's SAME padding where that keeps its output size (so
    the rest of the graph stays valid); returns how many ops became asymmetric."""
    from bnnflow.graph import validate
    from bnnflow.graph.padding import as_pads, out_size, tf_same_padding

    infos = validate(graph, tensors)
    changed = 0
    for op in graph.ops:
        if "padding" not in op.attrs or op.attrs.get("pad_mode") == "valid":
            continue
        _, h, w, _ = infos[op.inputs[0]].shape
        if "kernel" in op.attrs:
            kh = kw = op.attrs["kernel"]
        else:
            kh, kw = tensors[op.params["weights"]].shape[1:3]
        s = op.attrs["stride"]
        top, left, bottom, right = as_pads(op.attrs["padding"])
        same = tf_same_padding(h, w, kh, kw, s)
        t2, l2, b2, r2 = as_pads(same)
        if (out_size(h, kh, s, top, bottom), out_size(w, kw, s, left, right)) == (
                out_size(h, kh, s, t2, b2), out_size(w, kw, s, l2, r2)):
            op.attrs["padding"] = same
            changed += isinstance(same, list)
    validate(graph, tensors)
    return changed


#: Graph rewrites applied after conversion, by model name.
TRANSFORMS: dict[str, Callable[..., int]] = {"birealnet18_same": tf_same, "quicknet_same": tf_same}


def write_case(out: Path, case: str, model: object, dataflow: str, pixels: np.ndarray,
               transform: Callable[..., int] | None = None) -> None:
    """Convert ``model`` in ``dataflow`` (then ``transform`` the graph in place), and write the
    case's three files."""
    import torch

    from bnnflow.convert import convert
    from bnnflow.format import save
    from bnnflow.reference.interpreter import run

    example = torch.from_numpy(pixels[:1]).permute(0, 3, 1, 2).float()
    graph, tensors = convert(model, example, dataflow, metadata={"test_case": case})
    if transform is not None and transform(graph, tensors) == 0:
        raise RuntimeError(f"{case}: the transform changed no op")
    x = pixels.astype(graph.input_spec.dtype)
    logits = run(graph, tensors, x)
    save(out / f"{case}.bnn", graph, tensors)
    (out / f"{case}.input").write_bytes(np.ascontiguousarray(x).tobytes())
    (out / f"{case}.logits").write_bytes(logits.astype("<f4").tobytes())


def main(argv: list[str]) -> int:
    if argv == ["--list"]:
        print("\n".join(f"{m}_{d}" for m in MODELS for d in DATAFLOWS))
        return 0
    if not argv or argv[0].startswith("-"):
        print("usage: make_model_cases.py OUTDIR [MODEL ...] | --list", file=sys.stderr)
        return 2
    out, names = Path(argv[0]), argv[1:] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {list(MODELS)}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            models, pixels = MODELS[name](Path(tmp))
            for dataflow in DATAFLOWS:
                model = models[dataflow]
                write_case(out, f"{name}_{dataflow}", model, dataflow, pixels,
                           TRANSFORMS.get(name))
        print(f"{name}: int8 + float cases in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
