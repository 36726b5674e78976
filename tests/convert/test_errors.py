"""Every error path of the converter: a ConversionError naming the module, the op and the
reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bnnflow import nn as bnn
from bnnflow.convert import ConversionError, convert
from bnnflow.models import ftbnn_small

from .helpers import SCALE, ZP, stage2_

X = torch.randint(0, 256, (4, 1, 8, 8)).float()


class Wrap(nn.Module):
    """normalize → stem → ``body`` → GAP → Int8Point → QLinear."""

    def __init__(self, body: nn.Module, c: int = 4):
        super().__init__()
        self.normalize = bnn.InputNormalize([ZP], [SCALE])
        self.stem = nn.Sequential(bnn.QConv2d(1, c, 3, 1, 1, bias=False, input_scale=[SCALE]),
                                  nn.BatchNorm2d(c), bnn.Int8Point())
        self.body = body
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.q = bnn.Int8Point()
        self.fc = bnn.QLinear(c, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.q(self.pool(self.body(self.stem(self.normalize(x))))),
                                     1))


def _err(model, dataflow="float", x=X) -> ConversionError:
    with pytest.raises(ConversionError) as info:
        convert(model.eval(), x[:1], dataflow)
    return info.value


def test_error_fields_and_message():
    e = _err(Wrap(nn.Sequential(nn.Sigmoid())))
    assert e.module == "body.0" and e.op == "Sigmoid"
    assert "unsupported layer type" in e.reason
    assert str(e).startswith("cannot convert body.0 (Sigmoid): ")


def test_unsupported_function():
    class Cat(nn.Module):
        def forward(self, x):
            return torch.cat([x, x], 1)[:, :4]

    e = _err(Wrap(Cat()))
    assert e.module == "body" and "no lowering" in e.reason


def test_untraceable_model():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    e = _err(Wrap(Branchy()))
    assert "torch.fx cannot trace" in e.reason


@pytest.mark.parametrize("conv, why", [
    (nn.Conv2d(4, 4, 3, padding="same"), "padding 'same'"),
    (nn.Conv2d(4, 4, 3, padding=(1, 0)), "padding (1, 0)"),
    (nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"), "padding_mode 'reflect'"),
    (nn.Conv2d(4, 4, 3, padding=2, dilation=2), "dilated"),
])
def test_mismatched_padding(conv, why):
    e = _err(Wrap(nn.Sequential(conv, nn.BatchNorm2d(4))))
    assert e.module == "body.0" and why in e.reason


def test_pool_ceil_mode_and_count_include_pad():
    e = _err(Wrap(nn.MaxPool2d(3, 2, 1, ceil_mode=True)))
    assert e.op == "MaxPool2d" and "ceil_mode" in e.reason
    e = _err(Wrap(nn.AvgPool2d(3, 1, 1, count_include_pad=False)))
    assert "count_include_pad" in e.reason


def test_binary_conv_input_not_binarized():
    body = nn.Sequential(bnn.BinaryConv2d(4, 4, 3, input_quantizer=None), nn.BatchNorm2d(4))
    e = _err(Wrap(body))
    assert e.module == "body.0" and e.op == "BinaryConv2d"
    assert "not binarized" in e.reason


def test_sign_read_by_a_real_layer():
    body = nn.Sequential(bnn.SignActivation(), nn.Conv2d(4, 4, 1))
    e = _err(Wrap(body))
    assert e.module == "body.0" and "not a binary layer" in e.reason


@pytest.mark.parametrize("pool", [False, True])
def test_sign_read_by_a_real_layer_int8(pool):
    """Issue 10.4: in the int8 data-flow the refusal said only that the conv's input 'is not
    an int8 tensor'; it now says why, as the float data-flow does."""
    mods = [bnn.SignActivation(), *([nn.MaxPool2d(2)] if pool else []), bnn.QConv2d(4, 4, 1),
            nn.BatchNorm2d(4), bnn.Int8Point()]
    model = stage2_(Wrap(nn.Sequential(*mods)), X)
    e = _err(model, "int8")
    assert e.module == ("body.1" if pool else "body.0")
    assert f"read by QConv2d 'body.{1 + pool}', which is not a binary layer" in e.reason


def test_int8_needs_stage2():
    e = _err(ftbnn_small(), "int8")
    assert e.op == "Int8Point" and "stage-1" in e.reason and "enable_int8" in e.reason


def test_int8_weight_fake_quant_disabled():
    model = stage2_(ftbnn_small(), X)
    model.fc.set_mode("disabled")
    e = _err(model, "int8")
    assert e.module == "fc" and "fake-quant is disabled" in e.reason


def test_int8_never_calibrated():
    model = bnn.enable_int8(ftbnn_small())
    e = _err(model, "int8")
    assert e.op == "Int8Point" and "never calibrated" in e.reason


def test_int8_without_clipping_block():
    model = stage2_(ftbnn_small(), X)
    model.blocks[1].conv.clip = False
    e = _err(model, "int8")
    assert e.module == "blocks.1.conv" and "clip=False" in e.reason


def test_int8_missing_int8point():
    body = nn.Sequential(bnn.BinaryConv2d(4, 4, 3), nn.BatchNorm2d(4))  # no Int8Point
    model = stage2_(Wrap(body), X)
    e = _err(model, "int8")
    assert e.module == "body.0" and "needs an Int8Point" in e.reason


def test_int8_plain_conv():
    model = stage2_(Wrap(nn.Sequential(nn.Conv2d(4, 4, 1), bnn.Int8Point())), X)
    e = _err(model, "int8")
    assert e.module == "body.0" and "QConv2d" in e.reason


def test_int8_stem_without_folded_input_scale():
    model = Wrap(nn.Identity())
    model.stem[0] = bnn.QConv2d(1, 4, 3, 1, 1, bias=False)  # input_scale not folded
    stage2_(model, X)
    e = _err(model, "int8")
    assert e.module == "stem.0" and "input_scale" in e.reason


def test_int8_needs_input_normalize():
    class NoNorm(Wrap):
        def forward(self, x):
            return self.fc(torch.flatten(self.q(self.pool(self.stem(x))), 1))

    model = stage2_(NoNorm(nn.Identity()), X)
    e = _err(model, "int8")
    assert "InputNormalize" in e.reason


def test_int8_tensor_read_before_and_after_int8point():
    class Leak(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm2d(4)
            self.q = bnn.Int8Point()
            self.q2 = bnn.Int8Point()

        def forward(self, x):
            y = self.bn(x)
            return self.q2(self.q(y) + y)

    model = stage2_(Wrap(Leak()), X)
    e = _err(model, "int8")
    assert e.module == "body.q" and "both before and after" in e.reason


def test_model_must_end_in_logits():
    class NoHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.normalize = bnn.InputNormalize([ZP], [SCALE])
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return self.conv(self.normalize(x))

    e = _err(NoHead())
    assert "logits" in e.reason


def test_bad_example_input():
    with pytest.raises(ConversionError, match="example_input"):
        convert(ftbnn_small(), torch.zeros(1, 8, 8), "float")


def test_binary_linear_k_limit():
    """Issue 10.2: a BinaryLinear with more than 65,535 inputs once converted and validated,
    and the engine refused the file without naming the op."""
    class Head(nn.Module):
        def __init__(self, features: int):
            super().__init__()
            self.normalize = bnn.InputNormalize([ZP], [SCALE])
            self.fc = bnn.BinaryLinear(features, 3)

        def forward(self, x):
            return self.fc(torch.flatten(self.normalize(x), 1))

    x = torch.zeros(1, 1, 256, 256)  # 65,536 features
    e = _err(Head(256 * 256), x=x)
    assert e.module == "fc" and e.op == "BinaryLinear"
    assert "K = in_features = 65536 exceeds 65535" in e.reason
    convert(Head(255 * 257).eval(), torch.zeros(1, 1, 255, 257), "float")  # 65,535 fits


def test_binary_conv_k_limit():
    """K = 7·7·1400 = 68,600 was returned by convert() and caught only when saved."""
    body = nn.Sequential(nn.Conv2d(4, 1400, 1), bnn.BinaryConv2d(1400, 4, 7, padding=3))
    e = _err(Wrap(body))
    assert e.module == "body.1" and e.op == "BinaryConv2d"
    assert "K = KH·KW·Cin/groups = 7·7·1400 = 68600 exceeds 65535" in e.reason
    body = nn.Sequential(nn.Conv2d(4, 1400, 1), bnn.BinaryConv2d(1400, 4, 7, padding=3,
                                                                 groups=2))
    convert(Wrap(body).eval(), X[:1], "float")  # 7·7·700 = 34,300 fits


@pytest.mark.parametrize("dataflow", ["float", "int8"])
@pytest.mark.parametrize("layer, field", [
    (bnn.QConv2d(4, 4, 1, stride=65), "attrs.stride"),
    (bnn.QConv2d(4, 4, 1, padding=65), "attrs.padding"),
    (nn.MaxPool2d(1, stride=65), "attrs.stride"),
])
def test_engine_limits_are_checked_by_convert(layer, field, dataflow):
    """Every other engine limit (docs/format.md) is refused by convert() itself, naming the
    module and the rule, not at save or by the engine."""
    body = nn.Sequential(layer, bnn.Int8Point())
    model = Wrap(body)
    if dataflow == "int8":
        stage2_(model, X)
    e = _err(model, dataflow)
    assert e.module == "body.0" and field in e.reason and "docs/format.md" in e.reason


def _dead_relu_model() -> nn.Module:
    """A ReLU whose input is negative on every calibration batch: its Int8Point sees only 0."""
    body = nn.Sequential(bnn.QConv2d(4, 4, 1), nn.BatchNorm2d(4), bnn.Int8Point(), nn.ReLU(),
                         bnn.Int8Point(), bnn.QConv2d(4, 4, 1), nn.BatchNorm2d(4),
                         bnn.Int8Point())
    model = Wrap(body).eval()
    with torch.no_grad():
        model.body[1].bias.fill_(-100.0)
    return model


def test_int8_point_that_saw_only_zeros():
    """Issue 10.3: the refusal blamed the next layer's multiplier ("multiplier 1.02e+12 does
    not fit 16-bit fixed point"); it now says the point's observed range is empty and what to
    do."""
    model = stage2_(_dead_relu_model(), X)
    e = _err(model, "int8")
    assert e.module == "body.4" and e.op == "Int8Point"
    assert "observed range is empty" in e.reason and "only zeros" in e.reason
    assert "more or different batches" in e.reason and "min_scale" in e.reason


def test_min_scale_gives_an_empty_point_a_scale():
    from .helpers import assert_engine_equals_reference, nhwc

    model = bnn.enable_int8(_dead_relu_model())
    bnn.calibrate(model, [X])
    bnn.freeze_int8(model, min_scale=1 / 127)
    assert float(model.body[4].scale) == pytest.approx(1 / 127)
    assert float(model.body[2].scale) > 1 / 127  # only scales below min_scale move
    graph, tensors = convert(model, X[:1], "int8")
    assert_engine_equals_reference(graph, tensors, nhwc(X, np.uint8))
    with pytest.raises(ValueError, match="min_scale must be a positive"):
        bnn.freeze_int8(model, min_scale=0.0)


def test_tiny_scale_names_the_int8_point():
    """A scale that is tiny but not empty: the refusal of the layer before it names the
    output scale and its Int8Point."""
    model = stage2_(_dead_relu_model(), X)
    with torch.no_grad():
        model.body[4].max_abs.fill_(1e-18)
        model.body[4].scale.fill_(1e-18 / 127)
    e = _err(model, "int8")
    assert e.module == "body.3" and "does not fit int16 fixed point" in e.reason
    assert "output scale S = 7.874e-21 of Int8Point 'body.4'" in e.reason


def test_a_real_weight_layer_is_refused():
    """Step 1 of the two-step schedule has real weights: no binary op to lower."""
    model = ftbnn_small()
    bnn.set_real_weights(model)
    with pytest.raises(ConversionError, match="real-weight mode") as info:
        convert(model.eval(), X[:1], "float")
    assert info.value.op == "BinaryConv2d" and info.value.module
