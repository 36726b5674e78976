"""Load larq-zoo Keras weights (``.h5``) into bnnflow's PyTorch model of the same architecture.

:func:`from_keras` reads a Keras HDF5 weight file (``model.save_weights("m.h5")`` or a whole
``model.save("m.h5")``, TF 2 / tf_keras layout) with ``h5py`` — no TensorFlow — and copies it
layer by layer into :func:`~bnnflow.models.birealnet18` / ``birealnet34`` / ``quicknet``,
built with ``tf_padding=True`` (TF 'same' padding) so that the PyTorch forward computes what
the Keras model computes:

- Keras layers are matched to PyTorch modules per Keras layer class (``conv2d``,
  ``quant_conv2d``, ``batch_normalization``, ...) in creation order (the ``_N`` suffix Keras
  gives each new layer of a class), against the modules' execution order in the forward;
- conv kernels ``[KH, KW, Cin, Cout]`` → ``[Cout, Cin, KH, KW]``; depthwise kernels
  ``[KH, KW, C, 1]`` → ``[C, 1, KH, KW]``; dense kernels ``[in, out]`` → ``[out, in]``;
  larq's latent (real) weights of a binary conv go to :class:`~bnnflow.nn.BinaryConv2d`'s
  latent weight, whose forward takes their sign (and ``mean|W|`` per output channel for
  Bi-Real-Net's ``magnitude_aware_sign``);
- BatchNorm ``gamma, beta, moving_mean, moving_variance`` → ``weight, bias, running_mean,
  running_var``. ``epsilon`` is not in a weight file: the models already use larq-zoo's (Keras'
  default 1e-3 for Bi-Real-Net and QuickNet's stem, 1e-5 for QuickNet's blocks and
  transitions; Keras BN computes ``gamma·(x − mean)/sqrt(var + eps) + beta`` as PyTorch's).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bnnflow.nn import BinaryConv2d, InputNormalize, QConv2d, QLinear

from .registry import build

#: ``normalize`` choices: the Keras model's own input, or raw pixels 0..255 (bnnflow's norm).
NORMALIZE = ("keras", "imagenet")
_SUFFIX = re.compile(r"^(.*?)(?:_(\d+))?$")


class KerasImportError(ValueError):
    """A Keras weight file that does not map onto the bnnflow model (names the layer)."""


@dataclass
class KerasLayer:
    """One Keras layer of the weight file: its name and weights by short name (``kernel``)."""

    name: str
    weights: dict[str, np.ndarray]

    @property
    def cls(self) -> str:
        return _split_name(self.name)[0]


def _split_name(name: str) -> tuple[str, int]:
    m = _SUFFIX.match(name)
    assert m is not None
    return m.group(1), int(m.group(2) or 0)


def read_h5(path: str | os.PathLike[str]) -> list[KerasLayer]:
    """The layers with weights of a Keras HDF5 weight file, in file order."""
    try:
        import h5py
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "reading Keras .h5 files needs h5py: pip install 'bnnflow[import]'") from err
    layers = []
    with h5py.File(path, "r") as f:
        root = f.get("model_weights", f)
        if "layer_names" not in root.attrs:
            raise KerasImportError(
                f"{path}: not a TF 2 / tf_keras HDF5 weight file (no 'layer_names'; Keras 3 "
                "'.weights.h5' files are not supported: save with tf_keras)")
        for raw in root.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            g = root[name]
            weights = {}
            for wraw in g.attrs.get("weight_names", []):
                wname = wraw.decode() if isinstance(wraw, bytes) else str(wraw)
                short = wname.split("/")[-1].split(":")[0]
                weights[short] = np.asarray(g[wname], dtype=np.float32)
            if weights:
                layers.append(KerasLayer(name, weights))
    return layers


def _birealnet_class(name: str, m: nn.Module) -> str:
    if isinstance(m, BinaryConv2d):
        return "quant_conv2d"
    if isinstance(m, QConv2d):
        return "conv2d"
    if isinstance(m, QLinear):
        return "dense"
    return "batch_normalization"


def _quicknet_class(name: str, m: nn.Module) -> str:
    if isinstance(m, QConv2d) and m.groups > 1:
        return "depthwise_conv2d" if name.endswith("blur") else "quant_depthwise_conv2d"
    if isinstance(m, (QConv2d, BinaryConv2d)):
        return "quant_conv2d"
    if isinstance(m, QLinear):
        return "quant_dense"
    return "batch_normalization"


#: bnnflow model name → the Keras layer class of each weighted module (name, module).
ARCHITECTURES: dict[str, Callable[[str, nn.Module], str]] = {
    "birealnet18": _birealnet_class,
    "birealnet34": _birealnet_class,
    "quicknet": _quicknet_class,
}


def _execution_order(model: nn.Module, size: int) -> list[tuple[str, nn.Module]]:
    """The weighted leaf modules (convs, BN, dense) in the order the forward runs them."""
    kinds = (nn.Conv2d, BinaryConv2d, nn.BatchNorm2d, nn.Linear)
    names = {m: n for n, m in model.named_modules()}
    order: list[tuple[str, nn.Module]] = []
    hooks = [m.register_forward_pre_hook(lambda mod, _: order.append((names[mod], mod)))
             for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, _in_channels(model), size, size))
    finally:
        for h in hooks:
            h.remove()
    return order


def _in_channels(model: nn.Module) -> int:
    norm = getattr(model, "normalize", None)
    return norm.num_channels if isinstance(norm, InputNormalize) else 3


def _set(param: torch.Tensor, value: np.ndarray, what: str) -> None:
    if tuple(param.shape) != value.shape:
        raise KerasImportError(f"{what}: shape {value.shape} (after the Keras → PyTorch "
                               f"layout change) does not fit {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _need(layer: KerasLayer, key: str, mname: str) -> np.ndarray:
    if key not in layer.weights:
        raise KerasImportError(f"Keras layer {layer.name!r} has no {key!r} weight (has "
                               f"{sorted(layer.weights)}), needed for module {mname!r}")
    return layer.weights[key]


def _load_conv(layer: KerasLayer, mname: str, m: nn.Module) -> None:
    what = f"Keras layer {layer.name!r} → {mname!r}"
    if "depthwise_kernel" in layer.weights:
        k = layer.weights["depthwise_kernel"]  # [KH, KW, C, mult]
        w = k.transpose(2, 3, 0, 1).reshape(k.shape[2] * k.shape[3], 1, k.shape[0], k.shape[1])
    else:
        w = _need(layer, "kernel", mname).transpose(3, 2, 0, 1)
    _set(m.weight, w, what)
    bias = getattr(m, "bias", None)
    if ("bias" in layer.weights) != (bias is not None):
        raise KerasImportError(f"{what}: bias {'present' if 'bias' in layer.weights else 'absent'}"
                               " in Keras, not in the PyTorch module")
    if bias is not None:
        _set(bias, layer.weights["bias"], what + " (bias)")


def _load_dense(layer: KerasLayer, mname: str, m: nn.Linear) -> None:
    what = f"Keras layer {layer.name!r} → {mname!r}"
    _set(m.weight, _need(layer, "kernel", mname).T, what)
    _set(m.bias, _need(layer, "bias", mname), what + " (bias)")


def _load_bn(layer: KerasLayer, mname: str, m: nn.BatchNorm2d) -> None:
    what = f"Keras layer {layer.name!r} → {mname!r}"
    _set(m.running_mean, _need(layer, "moving_mean", mname), what + " (moving_mean)")
    _set(m.running_var, _need(layer, "moving_variance", mname), what + " (moving_variance)")
    if m.affine:
        c = m.num_features
        _set(m.weight, layer.weights.get("gamma", np.ones(c, np.float32)), what + " (gamma)")
        _set(m.bias, layer.weights.get("beta", np.zeros(c, np.float32)), what + " (beta)")
    elif "gamma" in layer.weights or "beta" in layer.weights:
        raise KerasImportError(f"{what}: the Keras layer has gamma/beta, the PyTorch "
                               "BatchNorm2d has affine=False")


def _load_one(layer: KerasLayer, mname: str, m: nn.Module) -> None:
    if isinstance(m, nn.BatchNorm2d):
        _load_bn(layer, mname, m)
    elif isinstance(m, nn.Linear):
        _load_dense(layer, mname, m)
    else:
        _load_conv(layer, mname, m)


def load_keras_weights(model: nn.Module, layers: list[KerasLayer],
                       layer_class: Callable[[str, nn.Module], str], size: int = 64) -> None:
    """Copy ``layers`` into ``model``: per Keras class, creation order against execution order.

    Raises :class:`KerasImportError` naming the first Keras layer that has no PyTorch module
    (or the module without a Keras layer), or whose weights do not fit.
    """
    by_cls: dict[str, list[KerasLayer]] = {}
    for la in sorted(layers, key=lambda la: _split_name(la.name)[::-1]):
        by_cls.setdefault(la.cls, []).append(la)
    modules: dict[str, list[tuple[str, nn.Module]]] = {}
    for name, m in _execution_order(model, size):
        modules.setdefault(layer_class(name, m), []).append((name, m))
    for cls in sorted(set(by_cls) | set(modules)):
        ks, ms = by_cls.get(cls, []), modules.get(cls, [])
        for k, (mname, m) in zip(ks, ms, strict=False):
            _load_one(k, mname, m)
        if len(ks) > len(ms):
            raise KerasImportError(
                f"Keras layer {ks[len(ms)].name!r} does not map: the model has {len(ms)} "
                f"module(s) for Keras class {cls!r}, the file {len(ks)}")
        if len(ms) > len(ks):
            raise KerasImportError(
                f"module {ms[len(ks)][0]!r} has no Keras layer: the file has {len(ks)} "
                f"{cls!r} layer(s), the model {len(ms)}")


def _keras_input(model: nn.Module) -> None:
    """Make the model read the Keras model's input as it is (identity normalisation)."""
    c = _in_channels(model)
    model.normalize = InputNormalize([0] * c, [1.0] * c)
    for m in model.modules():
        if isinstance(m, QConv2d) and m.input_scale is not None:
            m.input_scale.fill_(1.0)


def keras_checkpoint(net: nn.Module, model: str, kwargs: dict[str, object],
                     image_size: tuple[int, int] | None = None) -> dict[str, object]:
    """A stage-1 bnnflow training checkpoint of the loaded ``net`` (``torch.save`` it):
    ``bnnflow train --init`` fine-tunes it, ``bnnflow export`` converts it
    (bnnflow.train.checkpoint's format; the model is rebuilt with ``kwargs`` plus
    ``tf_padding=True`` and its ``num_classes``)."""
    import bnnflow
    from bnnflow.train.checkpoint import FORMAT, VERSION

    fc = getattr(net, "fc", None)
    kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    kw.update(tf_padding=True, num_classes=int(fc.out_features) if fc is not None else 1000)
    data: dict[str, object] = {"in_channels": _in_channels(net)}
    if image_size is not None:
        data["image_size"] = list(image_size)
    return {"format": FORMAT, "version": VERSION, "model": {"name": model, "kwargs": kw},
            "model_state": net.state_dict(), "stage": 1,
            "int8": {"enabled": False, "frozen": False}, "epoch": 0, "data": data,
            "metrics": {}, "config": {}, "bnnflow_version": bnnflow.__version__}


def from_keras(path: str | os.PathLike[str], model: str = "birealnet18",
               normalize: str = "keras", **kwargs: object) -> nn.Module:
    """bnnflow's ``model`` (``tf_padding=True``) with the weights of a larq-zoo Keras file.

    Args:
        path: a Keras HDF5 file (``save_weights`` or ``save``) of larq-zoo's ``BiRealNet``
            (``model='birealnet18'``, or a deeper one for ``'birealnet34'``) or ``QuickNet``
            (``'quicknet'``; ``QuickNetSmall``/``Large`` with ``section_filters`` /
            ``section_blocks``).
        model: the bnnflow model name.
        normalize: ``'keras'`` (default): the PyTorch model takes what the Keras model took
            (larq-zoo: ``larq_zoo.preprocess_input``'s normalised NHWC image, as NCHW), its
            logits are the Keras model's; ``'imagenet'``: raw pixels 0..255 through bnnflow's
            ImageNet :class:`~bnnflow.nn.InputNormalize` (integer zero points
            ``(124, 116, 104)`` where larq-zoo subtracts ``(123.675, 116.28, 103.53)``: off by
            up to 0.5 pixel values).
        **kwargs: the builder's arguments (``filters``, ``section_filters``, ...);
            ``num_classes`` defaults to the file's classifier width.

    Returns the model in eval mode. Raises :class:`KerasImportError` (a ``ValueError``)
    naming the Keras layer that does not map.
    """
    if model not in ARCHITECTURES:
        raise KerasImportError(f"from_keras: no Keras mapping for model {model!r}; "
                               f"supported: {sorted(ARCHITECTURES)}")
    if normalize not in NORMALIZE:
        raise KerasImportError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    if kwargs.pop("tf_padding", True) is not True:
        raise KerasImportError("from_keras builds the model with tf_padding=True (TF 'same' "
                               "padding, as the Keras model); tf_padding=False would change it")
    layers = read_h5(path)
    dense = [la for la in layers if la.cls in ("dense", "quant_dense") and "bias" in la.weights]
    if "num_classes" not in kwargs and dense:
        kwargs["num_classes"] = int(dense[-1].weights["bias"].shape[0])
    net = build(model, tf_padding=True, **kwargs)
    if normalize == "keras":
        _keras_input(net)
    try:
        load_keras_weights(net, layers, ARCHITECTURES[model])
    except KerasImportError as err:
        raise KerasImportError(f"{os.fspath(path)}: {err}") from err
    return net.eval()
