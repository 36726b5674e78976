"""Shared helpers of the converter tests: random small models, calibration, and comparison
of a converted graph with its PyTorch model (int8: integer tensors at every Int8Point; float:
logits)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bnnflow import nn as bnn

from . import refops


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN statistics and affine, slopes and shifts (so every fold is exercised)."""
    g = torch.Generator().manual_seed(seed)

    def u(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                u(m.running_mean, -3, 3)
                u(m.running_var, 0.5, 4)
                if m.weight is not None:
                    u(m.weight, -1.5, 1.5)
                    u(m.bias, -1, 1)
            elif isinstance(m, bnn.TwoSidedPReLU):
                u(m.pos_slope, 0.3, 1.5)
                u(m.neg_slope, -0.5, 0.5)
            elif isinstance(m, bnn.RPReLU):
                u(m.gamma, -0.5, 0.5)
                u(m.beta, -0.5, 0.5)
                u(m.zeta, -0.5, 0.5)
            elif isinstance(m, nn.PReLU):
                u(m.weight, -0.5, 0.5)
            elif isinstance(m, bnn.SignActivation) and m.shift is not None:
                u(m.shift, -0.5, 0.5)
            elif isinstance(m, bnn.BinaryConv2d | bnn.BinaryLinear) and m.scale is not None:
                u(m.scale, -1, 1)
    return model


def stage2_(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """enable_int8 → calibrate on ``x`` → freeze_int8; eval mode."""
    bnn.enable_int8(model)
    bnn.calibrate(model, [x])
    bnn.freeze_int8(model)
    return model.eval()


def nhwc(x: torch.Tensor, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy()).astype(dtype)


@dataclass
class Int8Report:
    """Per Int8Point: elements, mismatches, mismatches that are not rounding ties."""

    counts: dict[str, tuple[int, int, int]]
    top1_agreement: float

    @property
    def mismatches(self) -> int:
        return sum(c[1] for c in self.counts.values())

    @property
    def non_ties(self) -> int:
        return sum(c[2] for c in self.counts.values())

    @property
    def elements(self) -> int:
        return sum(c[0] for c in self.counts.values())


def _int8_points(model: nn.Module, x: torch.Tensor
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Torch integers and pre-rounding values ``v = x/S`` at every Int8Point, and logits."""
    ints: dict[str, np.ndarray] = {}
    reals: dict[str, np.ndarray] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, bnn.Int8Point):
            def hook(mod, inp, out, name=name):
                s = float(mod.scale)
                q, v = torch.round(out / s), inp[0].double() / s
                if q.dim() == 4:
                    q, v = q.permute(0, 2, 3, 1), v.permute(0, 2, 3, 1)
                ints[name] = q.to(torch.int64).numpy()
                reals[name] = v.numpy()
            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = model(x).numpy()
    finally:
        for h in hooks:
            h.remove()
    return ints, reals, logits


def compare_int8(model: nn.Module, graph, tensors, x: torch.Tensor) -> Int8Report:
    """Run the reference with teacher forcing at every Int8Point tensor (each segment sees
    PyTorch's own int8 input) and count mismatches; a mismatch is a tie when PyTorch's
    pre-rounding value v lies within the fixed-point error ((|v| + 256)·2^-14 + 2^-10, two
    int16 multipliers of inputs up to 128) of k + 0.5.
    The top-1 agreement is measured on a free run (no forcing)."""
    ints, reals, logits = _int8_points(model, x)
    mapping = graph.metadata["int8_points"]
    forced = {mapping[k]: ints[k].reshape(-1, *ints[k].shape[1:]) for k in mapping}
    for k in mapping:
        if ints[k].ndim == 4 and ints[k].shape[1:3] == (1, 1):
            forced[mapping[k]] = ints[k].reshape(ints[k].shape[0], -1)
    xi = nhwc(x, np.uint8)
    seen = refops.run_all(graph, tensors, xi, force={t: v.astype(np.int8)
                                                      for t, v in forced.items()})
    counts = {}
    for k, t in mapping.items():
        ref = seen[t].astype(np.int64).reshape(ints[k].shape)
        bad = ref != ints[k]
        v = reals[k][bad]
        frac = v - np.floor(v)
        tie = np.abs(frac - 0.5) <= (np.abs(v) + 256) * 2.0**-14 + 2.0**-10
        counts[k] = (int(ref.size), int(bad.sum()), int((~tie).sum()))
    free = refops.run(graph, tensors, xi)
    agree = float((free.argmax(1) == logits.argmax(1)).mean())
    return Int8Report(counts, agree)


def compare_float(model: nn.Module, graph, tensors, x: torch.Tensor
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(reference logits, PyTorch logits) with every Int8Point disabled in a copy of the
    model (what the float export computes)."""
    import copy

    m = copy.deepcopy(model).eval()
    for mod in m.modules():
        if isinstance(mod, bnn.Int8Point):
            mod.mode = "disabled"
    with torch.no_grad():
        expected = m(x).numpy()
    got = refops.run(graph, tensors, nhwc(x, np.float32))
    return got, expected
