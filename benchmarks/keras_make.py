"""Save seeded random larq-zoo Keras models as ``.h5`` weight files, with Keras's and LCE's logits.

Runs in the LCE peer environment (``scripts/peers-env.sh lce``)::

    TF_USE_LEGACY_KERAS=1 .peers/lce/bin/python benchmarks/keras_make.py --out out/keras_zoo
    TF_USE_LEGACY_KERAS=1 .peers/lce/bin/python benchmarks/keras_make.py --small \\
        --out tests/models/data/keras

For each model it writes ``<name>.h5`` (``model.save_weights``: the Keras HDF5 weight file a
larq-zoo user has), ``<name>.tflite`` (LCE's conversion, float inference) and ``<name>.npz``
with the inputs (``x``, NHWC, float16-exact), the Keras model's logits (``keras``) and LCE's
(``y``). Weights and BatchNorm statistics are randomised as in ``lce_make.py`` (seeded,
calibrated, softmax left out). ``--small`` builds reduced-width models from the same larq-zoo
factories at 32x32 (``filters=4`` Bi-Real-Net, QuickNet with ``section_filters=(8, 16, 32,
64)``, one block per section): the committed fixtures that ``tests/models/test_keras.py`` loads
without TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import lce_make
import numpy as np

FULL = {"birealnet": {}, "quicknet": {}}
SMALL = {
    "birealnet_small": {"filters": 4},
    "quicknet_small": {"section_filters": (8, 16, 32, 64), "section_blocks": (1, 1, 1, 1)},
}


def build(name: str, size: int, seed: int, fields: dict):  # -> tf.keras.Model
    """A larq-zoo model from its factory with ``fields`` overridden, randomised, logits out."""
    import tensorflow as tf
    from larq_zoo.literature.birealnet import BiRealNetFactory
    from larq_zoo.sota.quicknet import QuickNetFactory

    tf.keras.backend.clear_session()  # fresh layer names: conv2d, conv2d_1, ...
    tf.keras.utils.set_random_seed(seed)
    factory = BiRealNetFactory if name.startswith("birealnet") else QuickNetFactory
    num_classes = 10 if fields else 1000
    model = factory(input_shape=(size, size, 3), weights=None, include_top=True,
                    num_classes=num_classes, input_tensor=None, **fields).build()
    lce_make.randomise(model, seed)
    return lce_make.strip_softmax(model)


def write(model, name: str, out: str, n_random: int, seed: int) -> None:
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x = lce_make.inputs(shape, n_random, seed + 1)
    keras = model.predict(x, batch_size=16, verbose=0).reshape(len(x), -1).astype(np.float32)
    fb = lce_make.convert(model, "float")
    y, ms, _ = lce_make.run_lce(fb, x, "float")
    base = os.path.join(out, name)
    model.save_weights(base + ".h5")
    with open(base + ".tflite", "wb") as f:
        f.write(fb)
    np.savez_compressed(base + ".npz", x=x.astype(np.float16), y=y, keras=keras,
                        lce_ms=np.float64(ms))
    lce_make.log(f"{base}.h5 {os.path.getsize(base + '.h5')} bytes, {len(x)} inputs")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out/keras_zoo")
    p.add_argument("--small", action="store_true", help="the reduced-width 32x32 fixtures")
    p.add_argument("--models", default="", help="comma list (default: all of the set)")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--random", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    table = SMALL if a.small else FULL
    size = 32 if a.small else a.size
    names = [m for m in a.models.split(",") if m] or list(table)
    os.makedirs(a.out, exist_ok=True)
    for name in names:
        write(build(name, size, a.seed, table[name]), name, a.out, a.random, a.seed)


if __name__ == "__main__":
    main()
