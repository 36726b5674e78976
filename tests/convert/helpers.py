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


def assert_engine_equals_reference(graph, tensors, x: np.ndarray, isa: str | None = None,
                                   threads: int = 1) -> None:
    """Save and load the model (bytes round trip, validated as a file), run it on the engine
    Interpreter and compare every op's output with the reference: integer and packed tensors
    identical, float32 within 1e-5 relative (of the element or of the tensor's largest
    magnitude, docs/numerics.md)."""
    from bnnflow.format import dumps, loads
    from bnnflow.runtime import Interpreter

    f = loads(dumps(graph, tensors))
    interp = Interpreter.from_graph(f.graph, f.tensors, num_threads=threads, isa=isa)
    ref = refops.run_all(f.graph, f.tensors, x)
    got = interp.run_all(x)
    for op in f.graph.ops:
        a, b = got[op.outputs[0]], ref[op.outputs[0]]
        assert a.dtype == b.dtype and a.shape == b.shape, op.name
        if a.dtype == np.float32:
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale, err_msg=op.name)
        else:
            assert np.array_equal(a, b), f"{op.type} {op.name} differs on {interp.isa}"


@dataclass
class Int8Report:
    """Per Int8Point tensor: ``(elements, mismatches)`` between the frozen PyTorch model's
    eval forward and the reference; and whether the logits are identical."""

    counts: dict[str, tuple[int, int]]
    logits_equal: bool
    top1_agreement: float

    @property
    def mismatches(self) -> int:
        return sum(c[1] for c in self.counts.values())

    @property
    def elements(self) -> int:
        return sum(c[0] for c in self.counts.values())


def torch_int8_tensors(model: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Every activation of the frozen model's exact eval forward (bnnflow.nn.exact) as the
    reference lays it out: int8 / int32 / uint32-packed / float32 numpy arrays by tensor."""
    from bnnflow.nn import exact
    from bnnflow.reference.pack import bits_to_words

    ig = exact.integer_graph(model, x)
    out = {}
    for name, v in ig.run_all(ig.input_from_pixels(x)).items():
        info = ig.infos[name]
        a = v.cpu().numpy()
        out[name] = bits_to_words(a, info.groups) if info.is_packed else a.astype(info.dtype)
    return out


def compare_int8(model: nn.Module, graph, tensors, x: torch.Tensor) -> Int8Report:
    """The frozen stage-2 model in eval mode against the reference run of ``graph`` (free run,
    no forcing): every tensor at an Int8Point compared element by element, and the logits
    (``model(x)``, the exact eval forward) compared bit for bit."""
    assert not model.training
    with torch.no_grad():
        logits = model(x).numpy()
    mine = torch_int8_tensors(model, x)
    ref = refops.run_all(graph, tensors, nhwc(x, np.uint8))
    counts = {}
    for k, t in graph.metadata["int8_points"].items():
        assert mine[t].dtype == ref[t].dtype == np.int8, (k, mine[t].dtype, ref[t].dtype)
        counts[k] = (int(ref[t].size), int(np.sum(mine[t] != ref[t])))
    free = ref[graph.output_spec.name]
    return Int8Report(counts, bool(np.array_equal(free, logits)),
                      float((free.argmax(1) == logits.argmax(1)).mean()))


def assert_int8_exact(model: nn.Module, graph, tensors, x: torch.Tensor) -> Int8Report:
    """compare_int8, and assert 0 mismatches and bit-identical logits."""
    report = compare_int8(model, graph, tensors, x)
    assert report.mismatches == 0 and report.logits_equal, report.counts
    return report


def fake_quant_int8_points(model: nn.Module, x: torch.Tensor
                           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """The *fake-quant* forward (the training forward, float rescaling) of a copy of the model
    in eval mode: its integers and pre-rounding values ``v = x/S`` at every Int8Point, and its
    logits. For measuring how far that forward is from the engine (convert.measure_ties)."""
    import copy

    from bnnflow.nn import exact

    model = exact.install(copy.deepcopy(model), False).eval()
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


# ----------------------------------------------------------------------------------------
# Random small models
# ----------------------------------------------------------------------------------------

ZP, SCALE = 16, 1 / 64


class Residual(nn.Module):
    """``q(x + body(x))``."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body
        self.q = bnn.Int8Point()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.q(x + self.body(x))


class Net(nn.Module):
    """InputNormalize → int8 stem (QConv2d 3x3 → BN → Int8Point) → layers → head."""

    def __init__(self, cin: int, c0: int, layers: list[nn.Module], head: nn.Module):
        super().__init__()
        self.normalize = bnn.InputNormalize([ZP] * cin, [SCALE] * cin)
        self.stem = nn.Sequential(
            bnn.QConv2d(cin, c0, 3, 1, 1, bias=False, input_scale=[SCALE] * cin),
            nn.BatchNorm2d(c0), bnn.Int8Point())
        self.layers = nn.Sequential(*layers)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(self.normalize(x))))


class GapHead(nn.Module):
    def __init__(self, c: int, classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.q = bnn.Int8Point()
        self.fc = bnn.QLinear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.q(self.pool(x)), 1))


class FlatHead(nn.Module):
    """flatten → QLinear, or flatten → BinaryLinear (binary classifier)."""

    def __init__(self, features: int, classes: int, binary: bool):
        super().__init__()
        self.fc = (bnn.BinaryLinear(features, classes, weight_scale="channel_mean")
                   if binary else bnn.QLinear(features, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(x, 1))


def _quantizer(kind: str, c: int) -> str | bnn.SignActivation:
    if kind == "shift":
        return bnn.SignActivation("ste", channels=c, learnable_shift=True)
    return kind


def bconv_layer(cin: int, cout: int, k: int, stride: int, pad_mode: str, groups: int,
                quant: str, weight_scale: str, relu: bool) -> nn.Module:
    """bconv [→ ReLU] → BN → Int8Point."""
    conv = bnn.BinaryConv2d(cin, cout, k, stride, pad_mode=pad_mode, groups=groups,
                            input_quantizer=_quantizer(quant, cin), weight_scale=weight_scale)
    mods: list[nn.Module] = [conv]
    if relu:
        mods.append(nn.ReLU())
    mods += [nn.BatchNorm2d(cout), bnn.Int8Point()]
    return nn.Sequential(*mods)


def chain_layer(c: int, k: int) -> nn.Module:
    """bconv → BN → bconv → BN → Int8Point: the first BN feeds only a sign (packed
    epilogue with thresholds and flipped channels)."""
    return nn.Sequential(
        bnn.BinaryConv2d(c, c, k, weight_scale="learnable"), nn.BatchNorm2d(c),
        bnn.BinaryConv2d(c, c, k, input_quantizer=_quantizer("shift", c)),
        nn.BatchNorm2d(c), bnn.Int8Point())


def signpool_layer(c: int, k: int) -> nn.Module:
    """sign → max pool (on ±1: packed AND) → bconv without its own quantizer → BN → Int8Point.
    With ``k == 3`` a BN between a binary conv and the sign folds into a packed epilogue
    first."""
    pool = nn.MaxPool2d(2, 2) if k == 2 else nn.MaxPool2d(3, 2, 1)
    head: list[nn.Module] = []
    if k == 3:
        head = [bnn.BinaryConv2d(c, c, 3), nn.BatchNorm2d(c)]
    return nn.Sequential(*head, bnn.SignActivation("ste", channels=c, learnable_shift=True),
                         pool, bnn.BinaryConv2d(c, c, 3, input_quantizer=None),
                         nn.BatchNorm2d(c), bnn.Int8Point())


def build_random(spec: dict) -> tuple[nn.Module, torch.Tensor]:
    """A model and an input batch from a drawn ``spec`` (see ``tests/convert/strategies``)."""
    torch.manual_seed(spec["seed"])
    cin, c, h = spec["cin"], spec["c0"], spec["size"]
    layers: list[nn.Module] = []
    for layer in spec["layers"]:
        kind = layer["kind"]
        if kind == "bconv":
            k, stride, mode = layer["k"], layer["stride"], layer["pad_mode"]
            pad = 0 if mode == "valid" else k // 2
            ho = (h + 2 * pad - k) // stride + 1
            if ho < 1:
                continue
            g = layer["groups"] if c % layer["groups"] == 0 else 1
            same = layer["residual"] and stride == 1 and mode != "valid"
            cout = c if same else layer["cout"] * g
            scale = layer["weight_scale"]
            if layer["relu"] and scale == "learnable":
                scale = "channel_mean"  # a ReLU fuses only with non-negative scales
            body = bconv_layer(c, cout, k, stride, mode, g, layer["quant"], scale,
                               layer["relu"])
            if layer["residual"] and cout == c and ho == h and stride == 1:
                layers.append(Residual(body))
            else:
                layers.append(body)
            c, h = cout, ho
        elif kind == "chain":
            layers.append(chain_layer(c, 3))
        elif kind == "pwl":
            kinds = {"prelu": bnn.PReLU, "rprelu": bnn.RPReLU, "two_sided": bnn.TwoSidedPReLU}
            mod = nn.ReLU() if layer["pwl"] == "relu" else kinds[layer["pwl"]](c)
            layers += [mod, bnn.Int8Point()]
        elif kind == "maxpool" and h >= 2:
            layers += [nn.MaxPool2d(2, 2) if layer["pool_k"] == 2 else nn.MaxPool2d(3, 2, 1),
                       bnn.Int8Point()]
            h = h // 2 if layer["pool_k"] == 2 else (h - 1) // 2 + 1
        elif kind == "signpool" and h >= 2:
            layers.append(signpool_layer(c, layer["pool_k"]))
            h = h // 2 if layer["pool_k"] == 2 else (h - 1) // 2 + 1
        elif kind == "avgpool" and h >= 2:
            layers += [nn.AvgPool2d(2), bnn.Int8Point()]
            h //= 2
        elif kind == "conv1x1":
            cout = layer["cout"]
            layers += [bnn.QConv2d(c, cout, 1, bias=True), nn.BatchNorm2d(cout), bnn.Int8Point()]
            c = cout
        elif kind == "dwconv":
            layers += [bnn.QConv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c),
                       bnn.Int8Point()]
        elif kind == "bn":
            layers += [nn.BatchNorm2d(c), bnn.Int8Point()]
    head = spec["head"]
    if head == "gap":
        hd: nn.Module = GapHead(c, spec["classes"])
    else:
        hd = FlatHead(c * h * h, spec["classes"], binary=head == "binary")
    model = randomize_(Net(cin, spec["c0"], layers, hd).eval(), spec["seed"])
    g = torch.Generator().manual_seed(spec["seed"])
    x = torch.randint(0, 256, (spec["batch"], cin, spec["size"], spec["size"]), generator=g)
    return model, x.float()
