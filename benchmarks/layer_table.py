"""Dump the layer tables of larq-zoo BiRealNet and QuickNet (run with .peers/lce/bin/python).

For every Keras layer, in topological order: name, type, inbound layer names, output shape,
and for convolutions / dense layers also kernel, stride, padding (and Larq ``pad_values``),
groups, in/out channels, whether it is **binary** (both the input and the kernel quantizer
are set, so LCE converts it to ``LceBconv2d``) or real, and its multiply-accumulates for one
``224 x 224 x 3`` image::

    MACs(conv) = H_out * W_out * C_out * kh * kw * C_in / groups
    MACs(depthwise) = H_out * W_out * C * kh * kw * depth_multiplier
    MACs(dense) = C_in * C_out

The checked-in result, ``benchmarks/data/larq_zoo_layers.json``, lets tests in the main
environment compare bnnflow's models with larq-zoo's layer for layer without TensorFlow::

    .peers/lce/bin/python benchmarks/layer_table.py --out benchmarks/data/larq_zoo_layers.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

MODELS = ("birealnet", "quicknet")
CONV_TYPES = {"Conv2D", "QuantConv2D"}
DEPTHWISE_TYPES = {"DepthwiseConv2D", "QuantDepthwiseConv2D"}
DENSE_TYPES = {"Dense", "QuantDense"}


def build(name: str):  # -> tf.keras.Model
    """The larq-zoo model with random weights for a ``224 x 224 x 3`` input."""
    import larq_zoo as lqz
    import tensorflow as tf

    tf.keras.backend.clear_session()  # layer names restart from zero for each model
    factory = {"birealnet": lqz.literature.BiRealNet, "quicknet": lqz.sota.QuickNet}[name]
    return factory(input_shape=(224, 224, 3), weights=None)


def quantizer_name(q: Any) -> str | None:
    """A short name for a Larq quantizer (``None`` when there is none)."""
    if q is None:
        return None
    if isinstance(q, str):
        return q
    if callable(q) and hasattr(q, "__name__"):
        return q.__name__
    name = type(q).__name__
    clip = getattr(q, "clip_value", None)
    return f"{name}(clip={clip})" if clip is not None else name


def inbound(layer: Any) -> list[str]:
    """Names of the layers feeding ``layer`` (first node)."""
    names = []
    for node in layer._inbound_nodes[:1]:
        for inp in node.keras_inputs if hasattr(node, "keras_inputs") else []:
            names.append(inp._keras_history.layer.name)
    return names


def shape_of(layer: Any, which: str) -> list[int | None]:
    """``input_shape`` / ``output_shape`` of a layer as a plain list (first tensor)."""
    s = getattr(layer, which)
    if isinstance(s, list):
        s = s[0]
    return list(s)


def conv_entry(layer: Any, kind: str) -> dict[str, Any]:
    """Conv / depthwise / dense fields and MACs of ``layer``."""
    out = shape_of(layer, "output_shape")
    cin = shape_of(layer, "input_shape")[-1]
    inq = quantizer_name(getattr(layer, "input_quantizer", None))
    kq = quantizer_name(getattr(layer, "kernel_quantizer", None))
    e: dict[str, Any] = {
        "in_channels": cin,
        "out_channels": out[-1],
        "binary": inq is not None and kq is not None,
        "input_quantizer": inq,
        "kernel_quantizer": kq,
        "use_bias": bool(layer.use_bias),
    }
    if kind == "dense":
        e["macs"] = cin * out[-1]
        return e
    kh, kw = layer.kernel_size
    groups = cin if kind == "depthwise" else getattr(layer, "groups", 1)
    e.update(
        {
            "kernel": [kh, kw],
            "stride": list(layer.strides),
            "padding": layer.padding,
            "pad_values": float(getattr(layer, "pad_values", 0.0)),
            "groups": groups,
            "out_hw": out[1:3],
        }
    )
    if kind == "depthwise":
        e["macs"] = out[1] * out[2] * out[3] * kh * kw
    else:
        e["macs"] = out[1] * out[2] * out[3] * kh * kw * cin // groups
    act = getattr(layer, "activation", None)
    if act is not None and getattr(act, "__name__", "linear") != "linear":
        e["activation"] = act.__name__
    return e


def layer_entry(layer: Any) -> dict[str, Any]:
    """One row of the table for any Keras layer."""
    typ = type(layer).__name__
    e: dict[str, Any] = {"name": layer.name, "type": typ, "inputs": inbound(layer)}
    e["output_shape"] = shape_of(layer, "output_shape")[1:]
    if typ in CONV_TYPES:
        e.update(conv_entry(layer, "conv"))
    elif typ in DEPTHWISE_TYPES:
        e.update(conv_entry(layer, "depthwise"))
    elif typ in DENSE_TYPES:
        e.update(conv_entry(layer, "dense"))
    elif typ in {"MaxPooling2D", "AveragePooling2D"}:
        e.update({"pool": list(layer.pool_size), "stride": list(layer.strides)})
        e["padding"] = layer.padding
    elif typ == "Activation":
        e["activation"] = layer.activation.__name__
    elif typ == "TFOpLambda":
        e["symbol"] = layer.symbol  # e.g. "__operators__.add" for ``x + residual``
    elif typ == "BatchNormalization":
        e.update({"center": bool(layer.center), "scale": bool(layer.scale)})
        e["epsilon"] = float(layer.epsilon)
    return e


def table(name: str) -> dict[str, Any]:
    """The layer list of one model plus totals (binary / real MACs, parameter count)."""
    model = build(name)
    layers = [layer_entry(layer) for layer in model.layers]
    binary = sum(e.get("macs", 0) for e in layers if e.get("binary"))
    real = sum(e.get("macs", 0) for e in layers if "macs" in e and not e.get("binary"))
    n_bconv = sum(1 for e in layers if e.get("binary"))
    return {
        "keras_name": model.name,
        "input_shape": [224, 224, 3],
        "params": int(model.count_params()),
        "binary_macs": binary,
        "real_macs": real,
        "binary_convs": n_bconv,
        "layers": layers,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the JSON here (default: stdout)")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "source": {p: metadata.version(p) for p in ("larq-zoo", "larq", "tensorflow", "tf-keras")},
        "models": {name: table(name) for name in MODELS},
    }
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        for name, t in result["models"].items():
            print(
                f"{name}: {len(t['layers'])} layers, {t['binary_convs']} binary convs, "
                f"{t['binary_macs'] / 1e9:.3f} G binary MACs, {t['real_macs'] / 1e6:.1f} M real "
                f"MACs, {t['params'] / 1e6:.2f} M params",
                file=sys.stderr,
            )
    else:
        print(text)


if __name__ == "__main__":
    main()
