"""BinaryConv2d / BinaryLinear: integer output vs an independent numpy computation, scales,
clipping block, deploy views and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.nn import (
    BinaryConv2d,
    BinaryLinear,
    SignActivation,
    clip_latent_weights_,
    enable_int8,
    set_real_weights,
)


def np_sign(a: np.ndarray) -> np.ndarray:
    return np.where(a >= 0, 1, -1).astype(np.int64)


def np_binary_conv(x, w, stride, pad, mode, groups):
    """Direct sum of ±1 products; padded taps are 0 ('zero') or +1 ('one')."""
    value = 1 if mode == "one" else 0
    p = 0 if mode == "valid" else pad
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=value)
    n, _, h, wd = xp.shape
    cout, cg, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, cout, ho, wo), dtype=np.int64)
    per_group = cout // groups
    for o in range(cout):
        g = o // per_group
        xs = xp[:, g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                win = xs[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
                out[:, o] += np.einsum("nchw,c->nhw", win, w[o, :, i, j])
    return out


@settings(max_examples=40, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 3]),
    cg=st.integers(1, 5),
    og=st.integers(1, 3),
    k=st.sampled_from([1, 3, 5]),
    stride=st.sampled_from([1, 2]),
    mode=st.sampled_from(["zero", "one", "valid"]),
    hw=st.integers(5, 9),
    seed=st.integers(0, 2**31 - 1),
)
def test_integer_output_matches_numpy(groups, cg, og, k, stride, mode, hw, seed):
    torch.manual_seed(seed)
    cin, cout = cg * groups, og * groups
    conv = BinaryConv2d(cin, cout, k, stride, pad_mode=mode, groups=groups)
    x = torch.randn(2, cin, hw, hw)
    x[0, 0, 0, 0] = 0.0  # sign(0) = +1
    d = conv.integer_output(x)
    expected = np_binary_conv(
        np_sign(x.numpy()), np_sign(conv.weight.detach().numpy()), stride, k // 2, mode, groups
    )
    assert d.dtype == torch.int32
    np.testing.assert_array_equal(d.numpy(), expected)
    # The float forward (scale 'none', no clip) is the same integers.
    np.testing.assert_array_equal(conv(x).detach().numpy(), expected.astype(np.float32))


def test_one_padding_differs_from_zero_padding_at_the_border():
    torch.manual_seed(0)
    one = BinaryConv2d(4, 4, 3, pad_mode="one")
    zero = BinaryConv2d(4, 4, 3, pad_mode="zero")
    zero.load_state_dict(one.state_dict())
    x = torch.randn(1, 4, 6, 6)
    d1, d0 = one.integer_output(x), zero.integer_output(x)
    assert torch.equal(d1[..., 1:-1, 1:-1], d0[..., 1:-1, 1:-1])
    # Corner of 'one': 5 padded taps, each adds sum_c w[o, c, tap].
    w = torch.where(one.weight >= 0, 1, -1)
    taps = [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0)]
    extra = sum(w[:, :, i, j].sum(1) for i, j in taps)
    assert torch.equal(d1[0, :, 0, 0] - d0[0, :, 0, 0], extra.to(torch.int32))


def test_integer_output_with_learnable_shift_threshold():
    torch.manual_seed(1)
    act = SignActivation("ste", channels=3, learnable_shift=True)
    with torch.no_grad():
        act.shift.copy_(torch.tensor([0.3, -0.2, 0.0]))
    conv = BinaryConv2d(3, 4, 3, input_quantizer=act)
    x = torch.randn(1, 3, 5, 5)
    signs = np_sign(x.numpy() - np.array([0.3, -0.2, 0.0], dtype=np.float32)[None, :, None, None])
    expected = np_binary_conv(signs, np_sign(conv.weight.detach().numpy()), 1, 1, "zero", 1)
    np.testing.assert_array_equal(conv.integer_output(x).numpy(), expected)
    spec = conv.deploy_spec()
    assert spec.input_threshold.tolist() == pytest.approx([0.3, -0.2, 0.0])


def test_no_quantizer_requires_plus_minus_one_input():
    conv = BinaryConv2d(2, 2, 3, input_quantizer=None)
    x = torch.where(torch.randn(1, 2, 4, 4) >= 0, 1.0, -1.0)
    assert conv(x).shape == (1, 2, 4, 4)
    assert conv.deploy_spec().input_threshold is None
    with pytest.raises(ValueError, match="±1"):
        conv.integer_output(x * 0.5)


@pytest.mark.parametrize("weight_scale", ["none", "channel_mean", "learnable"])
def test_forward_is_integer_times_scale(weight_scale):
    torch.manual_seed(2)
    conv = BinaryConv2d(8, 6, 3, stride=2, weight_scale=weight_scale)
    x = torch.randn(2, 8, 7, 7)
    spec = conv.deploy_spec()
    if weight_scale == "none":
        expected_scale = torch.ones(6)
    elif weight_scale == "channel_mean":
        expected_scale = conv.weight.detach().abs().mean(dim=(1, 2, 3))
    else:
        expected_scale = conv.scale.detach()
    assert torch.allclose(spec.scale, expected_scale)
    y = conv(x)
    d = conv.integer_output(x).to(torch.float32)
    assert torch.allclose(y, d * spec.scale.view(1, -1, 1, 1))


def test_learnable_scale_gets_gradient_and_channel_mean_does_not_leak():
    conv = BinaryConv2d(4, 3, 3, weight_scale="learnable")
    conv(torch.randn(1, 4, 5, 5)).sum().backward()
    assert conv.scale.grad is not None and conv.scale.grad.abs().sum() > 0
    cm = BinaryConv2d(4, 3, 3, weight_scale="channel_mean")
    assert cm.scale is None


def test_clip_block_saturates_and_blocks_gradient_outside():
    conv = BinaryConv2d(32, 2, 3, clip=True, input_quantizer="ste")
    with torch.no_grad():
        conv.weight.fill_(0.5)
        conv.weight[1].fill_(-0.5)
    x = torch.full((1, 32, 3, 3), 0.5, requires_grad=True)
    y = conv(x)
    d = conv.integer_output(x)
    assert d[0, 0, 1, 1] == 288 and d[0, 1, 1, 1] == -288
    assert y[0, 0, 1, 1] == 127.0 and y[0, 1, 1, 1] == -128.0
    # Border pixels see 6 or 4 taps: 32*6 = 192 -> clipped, 32*4 = 128 -> clipped to 127.
    assert torch.equal(y, torch.clamp(d.float(), -128, 127))
    conv.weight.grad = None
    y[0, 0, 1, 1].backward()
    assert conv.weight.grad.abs().sum() == 0  # saturated: no gradient


def test_clip_block_passes_gradient_inside_range():
    conv = BinaryConv2d(2, 1, 3, clip=True)
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    conv(x).sum().backward()
    ref = BinaryConv2d(2, 1, 3, clip=False)
    ref.load_state_dict(conv.state_dict())
    x2 = x.detach().clone().requires_grad_(True)
    ref(x2).sum().backward()
    assert torch.equal(x.grad, x2.grad)


def test_weight_ste_gradient_window():
    conv = BinaryConv2d(1, 1, 1, pad_mode="valid", weight_clip_value=1.0)
    with torch.no_grad():
        conv.weight.fill_(1.5)
    conv(torch.ones(1, 1, 2, 2)).sum().backward()
    assert conv.weight.grad.item() == 0.0
    with torch.no_grad():
        conv.weight.fill_(0.5)
    conv.weight.grad = None
    conv(torch.ones(1, 1, 2, 2)).sum().backward()
    assert conv.weight.grad.item() == 4.0


def test_deploy_spec_fields():
    conv = BinaryConv2d(6, 4, 3, stride=2, pad_mode="one", groups=2, input_quantizer="approx")
    s = conv.deploy_spec()
    assert s.weight_sign.dtype == torch.int8 and s.weight_sign.shape == (4, 3, 3, 3)
    assert set(s.weight_sign.unique().tolist()) <= {-1, 1}
    assert torch.equal(s.weight_sign, torch.where(conv.weight >= 0, 1, -1).to(torch.int8))
    assert (s.stride, s.padding, s.pad_mode, s.groups, s.clip) == (2, 1, "one", 2, False)
    assert (s.in_channels, s.out_channels, s.kernel_size) == (6, 4, (3, 3))
    assert s.input_quantizer == "approx" and s.input_threshold.tolist() == [0.0] * 6
    assert BinaryConv2d(2, 2, 3, pad_mode="valid").deploy_spec().padding == 0
    assert BinaryConv2d(2, 2, 5).deploy_spec().padding == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pad_mode": "same"}, "pad_mode"),
        ({"groups": 3}, "groups"),
        ({"pad_mode": "valid", "padding": 1}, "padding"),
        ({"weight_scale": "mean"}, "weight_scale"),
        ({"input_quantizer": "sign"}, "input_quantizer"),
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
        ({"weight_clip_value": 0}, "weight_clip_value"),
    ],
)
def test_conv_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BinaryConv2d(4, 4, 3, **kwargs)


def test_linear_integer_output_and_spec():
    torch.manual_seed(3)
    lin = BinaryLinear(37, 5, input_quantizer="approx", weight_scale="channel_mean", clip=True)
    x = torch.randn(4, 37)
    d = lin.integer_output(x)
    xs, ws = np_sign(x.numpy()), np_sign(lin.weight.detach().numpy())
    # K - 2*popcount(x xor w): count disagreeing signs.
    expected = 37 - 2 * (xs[:, None, :] != ws[None, :, :]).sum(-1)
    np.testing.assert_array_equal(d.numpy(), expected)
    spec = lin.deploy_spec()
    assert spec.weight_sign.shape == (5, 37) and spec.clip
    assert torch.allclose(lin(x), d.float().clamp(-128, 127) * spec.scale)
    with pytest.raises(ValueError, match="weight_scale"):
        BinaryLinear(3, 3, weight_scale="x")


def test_clip_latent_weights():
    conv = BinaryConv2d(2, 2, 3, weight_clip_value=1.25)
    lin = BinaryLinear(4, 2)
    with torch.no_grad():
        conv.weight.mul_(100)
        lin.weight.mul_(100)
    model = torch.nn.Sequential(conv, torch.nn.Flatten(), lin)
    clip_latent_weights_(model)
    assert conv.weight.abs().max() <= 1.25 and lin.weight.abs().max() <= 1.0


@pytest.mark.parametrize("weight_scale", ["none", "channel_mean", "learnable"])
def test_real_weight_mode_uses_the_latent_weights(weight_scale):
    """Step 1 of the two-step schedule: y = conv(sign(x), W) (no scale, real W gradient);
    switching back restores the binary forward exactly."""
    torch.manual_seed(0)
    conv = BinaryConv2d(4, 6, 3, weight_scale=weight_scale)
    x = torch.randn(2, 4, 5, 5)
    binary = conv(x).detach()
    assert set_real_weights(torch.nn.Sequential(conv)) == 1
    y = conv(x)
    xb = torch.where(x >= 0, 1.0, -1.0)
    torch.testing.assert_close(y, torch.nn.functional.conv2d(xb, conv.weight, padding=1))
    y.square().sum().backward()
    # the gradient of a real weight is the plain conv gradient: non-zero outside the STE window
    assert conv.weight.grad is not None and bool((conv.weight.grad != 0).any())
    assert "real_weights=True" in repr(conv)
    set_real_weights(conv, False)
    assert torch.equal(conv(x).detach(), binary)


def test_real_weight_linear_and_refusals():
    torch.manual_seed(1)
    lin = BinaryLinear(8, 3, weight_scale="channel_mean")
    set_real_weights(lin)
    x = torch.randn(4, 8)
    torch.testing.assert_close(lin(x), torch.where(x >= 0, 1.0, -1.0) @ lin.weight.T)
    with pytest.raises(ValueError, match=r"BinaryLinear: deploy_spec .*real-weight mode"):
        lin.deploy_spec()
    with pytest.raises(ValueError, match="integer_output needs binary weights"):
        lin.integer_output(x)
    with pytest.raises(ValueError, match="enable_int8: layer '1' is in real-weight mode"):
        enable_int8(torch.nn.Sequential(torch.nn.Identity(), lin))
    with pytest.raises(ValueError, match="has no BinaryConv2d/BinaryLinear"):
        set_real_weights(torch.nn.Linear(2, 2))
    clipped = enable_int8(torch.nn.Sequential(BinaryLinear(8, 3)))
    with pytest.raises(ValueError, match="layer '0' has the int8 clipping block"):
        set_real_weights(clipped)
