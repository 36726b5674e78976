"""Build Larq models, convert them with Larq Compute Engine and record LCE's outputs.

Runs in the LCE peer environment (``scripts/peers-env.sh lce``)::

    .peers/lce/bin/python benchmarks/lce_make.py --models quicknet,birealnet --out out/lce_zoo
    .peers/lce/bin/python benchmarks/lce_make.py --fixtures tests/convert/data

Every model gets seeded random weights and randomised BatchNorm statistics (moving mean,
moving variance, gamma, beta), and the final softmax is left out: with larq-zoo's default
statistics the logits hardly depend on the input and every input gets the same class. Each
model is converted with ``larq_compute_engine.convert_keras_model`` twice: float inference
(float in/out) and int8 inference (``inference_input_type=tf.int8``,
``inference_output_type=tf.int8``, ``experimental_default_int8_range=(-3, 3)``). For each
``<name>_<float|int8>.tflite`` it writes ``<name>_<kind>.npz`` with the inputs it fed LCE's
interpreter (``x``: random normal and structured — constant, gradients, checkerboards, one
hot pixels; stored as float16, all exactly representable), LCE's outputs (``y``) and the
Keras model's (``keras``), plus LCE's time per image (``lce_ms``, best setting, 1 thread).
``benchmarks/lce_import_check.py`` then imports each file into bnnflow and compares.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np

ZOO = {
    "quicknet": ("sota", "QuickNet"),
    "quicknetsmall": ("sota", "QuickNetSmall"),
    "quicknetlarge": ("sota", "QuickNetLarge"),
    "birealnet": ("literature", "BiRealNet"),
    "binaryresnete18": ("literature", "BinaryResNetE18"),
    "binarydensenet28": ("literature", "BinaryDenseNet28"),
    "binarydensenet37": ("literature", "BinaryDenseNet37"),
    "realtobinarynet": ("literature", "RealToBinaryNet"),
    "meliusnet22": ("literature", "MeliusNet22"),
}


def log(msg: str) -> None:
    print(f"lce_make: {msg}", file=sys.stderr, flush=True)


def randomise(model, seed: int, passes: int = 3) -> None:  # model: tf.keras.Model
    """Seeded random BatchNorm statistics calibrated on data, and random PReLU slopes.

    Each BatchNormalization layer gets the per-channel mean and variance its input has on a
    calibration batch of random images, perturbed (mean + 0.2·std·N(0,1), variance ×
    U(0.7, 1.4)), and random affine params (gamma U(0.5, 1.5) with a random sign, 10 %
    negative; beta N(0, 0.3)); a channel's std is floored at a quarter of the layer's median
    std. The statistics are measured for all BN layers at once,
    ``passes`` times, each pass with the previous pass's values in place (a layer's input
    depends on the BN layers before it). Statistics of the right scale matter: with arbitrary
    ones a BN after a binary conv multiplies by ~sqrt(K), a single flipped sign bit moves the
    next layer by O(1) and the float rounding differences between two engines cascade into
    different logits. PReLU slopes are U(0.05, 0.5) (their zero init makes every output
    non-negative, so a binary conv after them would see a constant +1).
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    calib = rng.standard_normal((8, *shape)).astype(np.float32)
    bns = [la for la in model.layers if isinstance(la, tf.keras.layers.BatchNormalization)]
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.PReLU):
            layer.set_weights([rng.uniform(0.05, 0.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    noise = []
    for layer in bns:
        c = int(layer.input.shape[-1])
        noise.append({"gamma": rng.uniform(0.5, 1.5, c) * rng.choice([-1.0, 1.0], c, p=[0.1, 0.9]),
                      "beta": rng.normal(0.0, 0.3, c), "mean": rng.standard_normal(c),
                      "var": rng.uniform(0.7, 1.4, c)})
    probe = tf.keras.Model(model.inputs, [la.input for la in bns])
    for _ in range(passes):
        hs = probe.predict(calib, verbose=0)
        hs = hs if isinstance(hs, list) else [hs]
        for layer, h, nz in zip(bns, hs, noise, strict=True):
            flat = h.reshape(-1, h.shape[-1])
            # A channel that hardly varies on the calibration batch would get a huge BN
            # multiplier (blowing the activations up to ~1e5): floor its std.
            mean, std = flat.mean(0), flat.std(0)
            std = np.maximum(std, 0.25 * np.median(std) + 1e-3)
            vals = {"gamma": nz["gamma"], "beta": nz["beta"],
                    "moving_mean": mean + 0.2 * std * nz["mean"],
                    "moving_variance": std**2 * nz["var"]}
            layer.set_weights([np.asarray(vals[w.name.split("/")[-1].split(":")[0]], np.float32)
                               for w in layer.weights])


def strip_softmax(model):  # -> tf.keras.Model
    """The model up to its logits: the input of the final softmax activation."""
    import tensorflow as tf

    last = model.layers[-1]
    if isinstance(last, tf.keras.layers.Softmax) or (
        isinstance(last, tf.keras.layers.Activation)
        and last.get_config()["activation"] in ("softmax", "linear")
    ):
        return tf.keras.Model(model.inputs, last.input, name=model.name)
    raise ValueError(f"{model.name}: last layer {last.name} ({type(last).__name__}) is not a "
                     "softmax activation")


def zoo_model(name: str, size: int, seed: int):
    import larq_zoo as lqz
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    group, cls = ZOO[name]
    model = getattr(getattr(lqz, group), cls)(input_shape=(size, size, 3), weights=None)
    randomise(model, seed)
    return strip_softmax(model)


def tiny_model(variant: str, seed: int):
    """Small QuickNet-style models at 32x32 built from larq layers: the committed fixtures.

    ``a``: stem conv (stride 2, same), BN, ReLU; binary 3x3 convs with one-padding and a
    residual add; a binary conv feeding a binary conv (bitpacked output); a max pool over
    binary activations (LceBMaxPool2d); a grouped binary conv; a depthwise conv; global
    average pool and a dense classifier. ``b``: zero-padded and valid binary convs (stride 1
    and 2), a fused ReLU, PReLU, average pool, concatenation, flatten and dense. ``d``: a
    channel PAD (MeliusNet's improvement block), a grouped real conv, a split → conv per part
    → concatenation (MeliusNet's form of a grouped conv) and a strided one-padded binary conv.
    ``r``: RealToBinaryNet's binary blocks (larq-zoo's data-dependent scaling: global pool →
    dense ReLU → dense sigmoid → [N, 1, 1, C] times the binary conv's output, then PReLU and
    the residual add; LOGISTIC and MUL of two activations) and a same-shape gate
    ``x·sigmoid(conv1x1(x))`` (LOGISTIC on a 4-D tensor).
    """
    import larq as lq
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    L = tf.keras.layers
    q = {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign",
         "kernel_constraint": "weight_clip", "use_bias": False}
    x = inp = tf.keras.Input((32, 32, 3))
    if variant == "a":
        x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        for _ in range(2):
            y = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, **q)(x)
            y = L.BatchNormalization()(y)
            x = L.Add()([x, y])
        y = lq.layers.QuantConv2D(64, 3, padding="same", pad_values=1.0, **q)(x)
        y = L.BatchNormalization()(y)
        y = lq.layers.QuantConv2D(64, 3, padding="same", pad_values=1.0, **q)(y)
        x = L.BatchNormalization()(y)
        x = L.MaxPool2D(2, strides=2)(x)
        x = lq.layers.QuantConv2D(64, 3, padding="same", pad_values=1.0, groups=2, **q)(x)
        x = L.BatchNormalization()(x)
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dense(10)(x)
    elif variant == "r":
        from larq_zoo.core import utils

        x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.PReLU(shared_axes=[1, 2])(x)
        for filters, stride in ((32, 1), (32, 1), (64, 2)):
            x_in = x
            y = lq.layers.QuantConv2D(filters, 3, strides=stride, padding="same",
                                      pad_values=1.0, **q)(x)
            y = L.BatchNormalization()(y)
            z = utils.global_pool(x_in)
            z = L.Dense(int(x_in.shape[-1]) // 8, activation="relu", use_bias=False)(z)
            z = L.Dense(filters, activation="sigmoid", use_bias=False)(z)
            y = L.Multiply()([y, L.Reshape((1, 1, filters))(z)])
            y = L.PReLU(shared_axes=[1, 2])(y)
            if stride > 1 or filters != x_in.shape[-1]:
                x_in = L.AveragePooling2D(stride)(x_in)
                x_in = L.Conv2D(filters, 1, use_bias=False)(x_in)
                x_in = L.BatchNormalization()(x_in)
            x = L.Add()([x_in, y])
        g = L.Activation("sigmoid")(L.Conv2D(64, 1)(x))
        x = L.Multiply()([x, g])
        x = utils.global_pool(x)
        x = L.Dense(10)(x)
    elif variant == "d":
        x = L.Conv2D(32, 3, strides=1, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        y = lq.layers.QuantConv2D(16, 3, padding="same", pad_values=1.0, **q)(x)
        y = L.BatchNormalization()(y)
        y = L.Lambda(lambda t: tf.pad(t, [[0, 0], [0, 0], [0, 0], [16, 0]]))(y)
        x = L.Add()([x, y])
        x = L.Conv2D(32, 3, padding="same", groups=4, use_bias=False)(x)
        x = L.BatchNormalization()(x)
        parts = L.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)
        x = L.Concatenate()([L.Conv2D(16, 3, padding="same", use_bias=False)(t) for t in parts])
        x = L.BatchNormalization()(x)
        x = lq.layers.QuantConv2D(32, 3, strides=2, padding="same", pad_values=1.0, **q)(x)
        x = L.BatchNormalization()(x)
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dense(10)(x)
    else:
        x = L.Conv2D(24, 3, strides=1, padding="same", use_bias=True)(x)
        x = L.BatchNormalization()(x)
        a = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=0.0, **q)(x)
        a = L.BatchNormalization()(a)
        b = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, activation="relu",
                                  **q)(x)
        b = L.BatchNormalization()(b)
        x = L.Concatenate()([a, b])
        x = L.PReLU(shared_axes=[1, 2])(x)
        x = lq.layers.QuantConv2D(48, 3, strides=2, padding="valid", **q)(x)
        x = L.BatchNormalization()(x)
        x = L.AveragePooling2D(2)(x)
        x = L.ReLU()(x)
        x = L.Flatten()(x)
        x = L.Dense(10)(x)
    model = tf.keras.Model(inp, x, name=f"tiny_{variant}")
    randomise(model, seed)
    return model


def inputs(shape: tuple[int, ...], n_random: int, seed: int) -> np.ndarray:
    """``n_random`` random-normal images plus structured ones (constants, gradients,
    checkerboards, single hot pixels), float32 NHWC."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    xs = [rng.standard_normal((n_random, h, w, c)).astype(np.float32)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    s = []
    for v in (-2.0, -0.5, 0.0, 0.5, 2.0):
        s.append(np.full((h, w, c), v, np.float32))
    for k in range(c):
        g = np.zeros((h, w, c), np.float32)
        g[..., k] = (xx / (w - 1) - 0.5) * 4
        s.append(g)
        g = np.zeros((h, w, c), np.float32)
        g[..., k] = (yy / (h - 1) - 0.5) * 4
        s.append(g)
    for p in (1, 2, 4, 8):
        cb = (((yy // p) + (xx // p)) % 2 * 2 - 1)[..., None] * np.ones(c, np.float32)
        s.append(cb.astype(np.float32))
        s.append(-cb.astype(np.float32))
    for _ in range(4):
        z = np.zeros((h, w, c), np.float32)
        z[rng.integers(h), rng.integers(w), :] = rng.normal(0, 3, c)
        s.append(z)
    xs.append(np.stack(s))
    # Values representable in float16, so the .npz stores them in half the bytes.
    return np.concatenate(xs).astype(np.float16).astype(np.float32)


def convert(model, kind: str) -> bytes:
    import larq_compute_engine as lce
    import tensorflow as tf

    if kind == "float":
        return lce.convert_keras_model(model)
    return lce.convert_keras_model(
        model,
        inference_input_type=tf.int8,
        inference_output_type=tf.int8,
        experimental_default_int8_range=(-3.0, 3.0),
    )


def run_lce(fb: bytes, x: np.ndarray, kind: str) -> tuple[np.ndarray, float, dict]:
    """LCE's outputs for ``x`` (float32; quantised with the model's input params for int8,
    the int8 outputs dequantised) and its best time per image (ms, 1 thread)."""
    import larq_compute_engine as lce

    it = lce.testing.Interpreter(fb, num_threads=1, use_indirect_bgemm=True, use_xnnpack=True)
    ii = it.interpreter
    qin = qout = None
    if kind == "int8":
        qin, qout = io_quantization(fb)
    ys = []
    for i in range(len(x)):
        xi = x[i : i + 1]
        if qin is not None:
            xi = np.clip(np.round(xi / qin[0]) + qin[1], -128, 127).astype(np.int8)
        y = np.asarray(it.predict(xi))
        if qout is not None:
            y = (y.astype(np.float32) - qout[1]) * np.float32(qout[0])
        ys.append(y.reshape(1, -1))
    x1 = x[:1] if qin is None else np.zeros_like(x[:1], dtype=np.int8)
    best = min(_timed(it, x1) for _ in range(5))
    info = {"input_quantization": list(qin) if qin else None,
            "output_quantization": list(qout) if qout else None}
    del ii
    return np.concatenate(ys).astype(np.float32), best * 1e3, info


def time_file(path: str, runs: int) -> float:
    """LCE's median time (ms) over ``runs`` calls for one image of a float-input ``.tflite``
    file, 1 thread."""
    import larq_compute_engine as lce

    with open(path, "rb") as f:
        fb = f.read()
    it = lce.testing.Interpreter(fb, num_threads=1, use_indirect_bgemm=True, use_xnnpack=True)
    shape = [1, *it.interpreter.input_shapes[0][1:]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    it.predict(x)
    return 1e3 * float(np.median([_timed(it, x) for _ in range(runs)]))


def io_quantization(fb: bytes) -> tuple[tuple[float, int], tuple[float, int]]:
    """(scale, zero point) of the model's input and output tensors."""
    from larq_compute_engine.mlir.python.tflite_schema import Model

    sub = Model.GetRootAsModel(fb, 0).Subgraphs(0)

    def q(i: int) -> tuple[float, int]:
        qp = sub.Tensors(i).Quantization()
        return float(qp.Scale(0)), int(qp.ZeroPoint(0))

    return q(sub.Inputs(0)), q(sub.Outputs(0))


def _timed(it, x) -> float:
    t = time.perf_counter()
    it.predict(x)
    return time.perf_counter() - t


def write(model, name: str, out: str, kinds: list[str], n_random: int, seed: int) -> None:
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x = inputs(shape, n_random, seed + 1)
    keras = model.predict(x, batch_size=16, verbose=0).reshape(len(x), -1).astype(np.float32)
    for kind in kinds:
        t = time.time()
        fb = convert(model, kind)
        y, ms, info = run_lce(fb, x, kind)
        base = os.path.join(out, f"{name}_{kind}")
        with open(base + ".tflite", "wb") as f:
            f.write(fb)
        np.savez_compressed(base + ".npz", x=x.astype(np.float16), y=y, keras=keras,
                            lce_ms=np.float64(ms),
                            info=np.array(json.dumps(info)))
        log(f"{base}.tflite {len(fb)} bytes, {len(x)} inputs, LCE {ms:.2f} ms/img "
            f"({time.time() - t:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="", help=f"comma list of {','.join(ZOO)} or 'all'")
    p.add_argument("--size", type=int, default=224, help="zoo input resolution")
    p.add_argument("--kinds", default="float",
                   help="float and/or int8 (bnnflow imports float-inference models only)")
    p.add_argument("--random", type=int, default=64, help="random inputs per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/lce_zoo")
    p.add_argument("--fixtures", default=None,
                   help="write the small committed fixtures (lce_tiny_*) to this folder")
    p.add_argument("--tiny", default="a,b,d,r", help="which tiny models (with --fixtures)")
    p.add_argument("--time-file", default=None, metavar="TFLITE",
                   help="only time LCE on this file (median of --time-runs, 1 thread, ms/image)")
    p.add_argument("--time-runs", type=int, default=15)
    a = p.parse_args(argv)
    if a.time_file:
        print(f"{time_file(a.time_file, a.time_runs):.4f}")
        return
    kinds = a.kinds.split(",")
    if a.fixtures:
        os.makedirs(a.fixtures, exist_ok=True)
        for v in a.tiny.split(","):
            write(tiny_model(v, a.seed), f"lce_tiny_{v}", a.fixtures, kinds, 16, a.seed)
    names = list(ZOO) if a.models == "all" else [m for m in a.models.split(",") if m]
    os.makedirs(a.out, exist_ok=True)
    failed = []
    for name in names:
        log(f"building {name} at {a.size}")
        try:
            write(zoo_model(name, a.size, a.seed), name, a.out, kinds, a.random, a.seed)
        except Exception as err:  # report and go on with the next model
            log(f"{name}: FAILED: {type(err).__name__}: {err}")
            failed.append(name)
    if failed:
        raise SystemExit(f"lce_make: failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
