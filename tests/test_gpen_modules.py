"""GPEN building blocks, each against an independent numpy / per-sample reference."""

from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from scipy.signal import upfirdn as scipy_upfirdn

from ppgan_fom.modules.gpen import (Blur, ConvLayer, EqualConv2d, EqualLinear, FusedLeakyReLU,
                                    ModulatedConv2d, NoiseInjection, PixelNorm, StyledConv, ToRGB,
                                    Upsample, channels_for, encoder_stages, upfirdn2d)

RNG = np.random.RandomState(7)


def _t(a):
    return paddle.to_tensor(np.asarray(a, np.float32))


def ref_upfirdn(x, taps, gain, up, pad):
    """Separable upfirdn on (B, C, H, W) with scipy: zero-insert, full convolution with
    taps / sum(taps) along each axis, then the window selected by the padding."""
    k = np.asarray(taps, np.float64)
    k = k / k.sum()
    p0, p1 = pad
    out = np.asarray(x, np.float64)
    for axis in (2, 3):
        n = out.shape[axis]
        z = scipy_upfirdn(k, out, up=up, axis=axis)  # full conv, length (n-1)*up + len(k)
        n_out = n * up + p0 + p1 - len(k) + 1
        idx = np.arange(n_out) + len(k) - 1 - p0
        valid = (idx >= 0) & (idx < z.shape[axis])
        picked = np.take(z, np.clip(idx, 0, z.shape[axis] - 1), axis=axis)
        shape = [1] * out.ndim
        shape[axis] = n_out
        out = picked * valid.reshape(shape)
    return out * gain


def leaky(x):
    return np.where(x >= 0, x, 0.2 * x) * math.sqrt(2.0)


@pytest.mark.parametrize("up,pad", [(1, (2, 2)), (1, (1, 1)), (1, (2, 1)), (2, (2, 1)),
                                    (2, (1, 1)), (1, (0, 0))])
def test_upfirdn2d_matches_scipy(up, pad):
    x = RNG.randn(2, 3, 7, 9).astype(np.float32)
    taps = [1, 3, 3, 1]
    k = (np.outer(taps, taps) / 64.0).astype(np.float32)
    got = upfirdn2d(_t(x), _t(k), up=up, pad=pad).numpy()
    want = ref_upfirdn(x, taps, 1.0, up, pad)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_upfirdn2d_flips_an_asymmetric_kernel():
    """A true convolution: an impulse reproduces the kernel, not its mirror image."""
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 2] = 1
    k = np.arange(9, dtype=np.float32).reshape(3, 3)
    got = upfirdn2d(_t(x), _t(k), pad=(1, 1)).numpy()[0, 0]
    np.testing.assert_allclose(got[1:4, 1:4], k)


def test_blur_and_upsample_layers():
    x = RNG.randn(2, 4, 8, 8).astype(np.float32)
    blur = Blur(4, [1, 3, 3, 1], (2, 2))
    np.testing.assert_allclose(blur(_t(x)).numpy(), ref_upfirdn(x, [1, 3, 3, 1], 1, 1, (2, 2)),
                               atol=2e-6)
    assert "kernel" not in blur.state_dict() and "weight" not in blur.state_dict()
    up = Upsample([1, 3, 3, 1])
    assert list(up.state_dict()) == ["kernel"] and up.pad == (2, 1)
    got = up(_t(x)).numpy()
    assert got.shape == (2, 4, 16, 16)
    np.testing.assert_allclose(got, ref_upfirdn(x, [1, 3, 3, 1], 4, 2, (2, 1)), atol=5e-6)
    # a constant image stays constant in the interior (gain 4 makes up for the zeros)
    one = up(paddle.ones([1, 1, 8, 8])).numpy()[0, 0]
    np.testing.assert_allclose(one[2:-2, 2:-2], 1.0, atol=1e-6)


def test_equal_linear():
    x = RNG.randn(3, 5).astype(np.float32)
    for lr_mul, activate in ((1.0, False), (0.01, False), (0.01, True)):
        lin = EqualLinear(5, 4, bias_init=0.5, lr_mul=lr_mul, activate=activate)
        lin.weight.set_value(RNG.randn(5, 4).astype(np.float32) * 10)
        lin.bias.set_value(RNG.randn(4).astype(np.float32))
        w, b = lin.weight.numpy().astype(np.float64), lin.bias.numpy().astype(np.float64)
        want = x @ (w * lr_mul / math.sqrt(5)) + b * lr_mul
        if activate:
            want = leaky(want)
        np.testing.assert_allclose(lin(_t(x)).numpy(), want, rtol=1e-5, atol=1e-5)


def test_equal_conv_and_fused_leaky_relu():
    x = RNG.randn(2, 3, 6, 6).astype(np.float32)
    conv = EqualConv2d(3, 4, 3, padding=1)
    conv.bias.set_value(RNG.randn(4).astype(np.float32))
    w = conv.weight.numpy() / math.sqrt(3 * 9)
    want = F.conv2d(_t(x), _t(w), bias=conv.bias, padding=1).numpy()
    np.testing.assert_allclose(conv(_t(x)).numpy(), want, atol=1e-5)
    act = FusedLeakyReLU(3)
    act.bias.set_value(RNG.randn(3).astype(np.float32))
    plain = leaky(x + act.bias.numpy()[None, :, None, None])
    np.testing.assert_allclose(act(_t(x)).numpy(), plain, atol=1e-5)
    # pre-scaled input: same value without a pass over the feature map
    np.testing.assert_allclose(act(_t(x * math.sqrt(2)), prescaled=True).numpy(), plain, atol=1e-5)


def test_pixel_norm():
    x = RNG.randn(4, 16).astype(np.float32) * 3
    want = x / np.sqrt((x.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(PixelNorm()(_t(x)).numpy(), want, rtol=1e-5)


def _randomise(layer, seed):
    rng = np.random.RandomState(seed)
    for name, p in layer.named_parameters():
        v = rng.randn(*p.shape).astype(np.float32)
        p.set_value(v * 0.1 + 1.0 if name.endswith("modulation.bias") else v)


def grouped_reference(layer: ModulatedConv2d, x, style, gain=1.0):
    """PaddleGAN's formulation: a per-sample modulated (and demodulated) kernel."""
    wm = layer.modulation.weight.numpy().astype(np.float64)
    bm = layer.modulation.bias.numpy().astype(np.float64)
    s = style @ (wm / math.sqrt(wm.shape[0])) + bm  # (B, in)
    w = layer.weight.numpy()[0].astype(np.float64)
    outs = []
    for b in range(len(style)):
        wb = layer.scale * w * s[b][None, :, None, None]
        if layer.demodulate:
            wb = wb / np.sqrt((wb ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)
        xb = _t(x[b:b + 1] if x.shape[0] > 1 else x)
        if layer.upsample:
            y = F.conv2d_transpose(xb, _t(wb.transpose(1, 0, 2, 3)), stride=2).numpy()
            y = ref_upfirdn(y, [1, 3, 3, 1], 4, 1, (1, 1))
        else:
            y = F.conv2d(xb, _t(wb), padding=layer.padding).numpy()
        outs.append(y[0])
    return np.stack(outs) * gain


@pytest.mark.parametrize("k,demod,up,gain", [(3, True, False, 1.0), (3, True, True, 1.0),
                                             (3, True, False, math.sqrt(2)), (1, False, False, 1.0),
                                             (1, True, False, 2.0), (1, False, False, 3.0)])
def test_modulated_conv_matches_per_sample_kernels(k, demod, up, gain):
    layer = ModulatedConv2d(6, 5, k, 8, demodulate=demod, upsample=up)
    _randomise(layer, 3)
    x = RNG.randn(3, 6, 8, 8).astype(np.float32)
    style = RNG.randn(3, 8).astype(np.float32)
    got = layer(_t(x), _t(style), gain=gain).numpy()
    want = grouped_reference(layer, x, style, gain)
    assert got.shape == want.shape == (3, 5) + ((16, 16) if up else (8, 8))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_modulated_conv_broadcasts_a_shared_input():
    """The constant input (batch 1) takes the style's batch."""
    for k in (3, 1):
        layer = ModulatedConv2d(4, 3, k, 8)
        _randomise(layer, 4)
        x = RNG.randn(1, 4, 4, 4).astype(np.float32)
        style = RNG.randn(2, 8).astype(np.float32)
        np.testing.assert_allclose(layer(_t(x), _t(style)).numpy(),
                                   grouped_reference(layer, x, style), rtol=1e-4, atol=1e-4)


def test_noise_injection_concat_and_add():
    img = RNG.randn(2, 3, 4, 4).astype(np.float32)
    noise = RNG.randn(2, 3, 4, 4).astype(np.float32)
    cat, add = NoiseInjection(concat=True), NoiseInjection(concat=False)
    for layer in (cat, add):
        layer.weight.set_value(np.array([0.7], np.float32))
    np.testing.assert_allclose(cat(_t(img), _t(noise)).numpy(),
                               np.concatenate([img, 0.7 * noise], axis=1), atol=1e-6)
    np.testing.assert_allclose(add(_t(img), _t(noise)).numpy(), img + 0.7 * noise, atol=1e-6)
    np.testing.assert_allclose(cat(_t(img), _t(noise), gain=2.0).numpy()[:, 3:], 1.4 * noise,
                               atol=1e-6)


@pytest.mark.parametrize("up", [False, True])
def test_styled_conv_is_conv_noise_activation(up):
    layer = StyledConv(4, 3, 3, 8, upsample=up, concat=True)
    _randomise(layer, 5)
    x = RNG.randn(2, 4, 4, 4).astype(np.float32)
    style = RNG.randn(2, 8).astype(np.float32)
    side = 8 if up else 4
    noise = RNG.randn(2, 3, side, side).astype(np.float32)
    got = layer(_t(x), _t(style), _t(noise)).numpy()
    conv = grouped_reference(layer.conv, x, style)
    pre = np.concatenate([conv, layer.noise.weight.numpy()[0] * noise], axis=1)
    want = leaky(pre + layer.activate.bias.numpy()[None, :, None, None])
    assert got.shape == (2, 6, side, side)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_to_rgb_adds_upsampled_skip():
    layer = ToRGB(6, 8)
    _randomise(layer, 6)
    x = RNG.randn(2, 6, 8, 8).astype(np.float32)
    style = RNG.randn(2, 8).astype(np.float32)
    skip = RNG.randn(2, 3, 4, 4).astype(np.float32)
    got = layer(_t(x), _t(style), _t(skip)).numpy()
    want = grouped_reference(layer.conv, x, style) + layer.bias.numpy() \
        + ref_upfirdn(skip, [1, 3, 3, 1], 4, 2, (2, 1))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("downsample", [False, True])
def test_conv_layer(downsample):
    layer = ConvLayer(3, 4, 3 if downsample else 1, downsample=downsample)
    _randomise(layer, 8)
    names = sorted(layer.state_dict())
    assert names == (["1.weight", "2.bias"] if downsample else ["0.weight", "1.bias"])
    x = RNG.randn(2, 3, 8, 8).astype(np.float32)
    conv, act = layer[-2], layer[-1]
    xin = ref_upfirdn(x, [1, 3, 3, 1], 1, 1, (2, 2)) if downsample else x
    y = F.conv2d(_t(xin), _t(conv.weight.numpy() * conv.scale), stride=conv.stride,
                 padding=conv.padding).numpy()
    want = leaky(y + act.bias.numpy()[None, :, None, None])
    got = layer(_t(x)).numpy()
    assert got.shape == ((2, 4, 4, 4) if downsample else (2, 4, 8, 8))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_encoder_stages_halve_down_to_4px():
    ch = channels_for(1)
    stages = encoder_stages(32, ch)
    assert len(stages) == 4  # log2(32) - 1
    x = paddle.zeros([1, 3, 32, 32])
    sides = []
    for stage in stages:
        x = stage(x)
        sides.append((x.shape[1], x.shape[2]))
    assert sides == [(512, 32), (512, 16), (512, 8), (512, 4)]


def test_channels_table():
    assert channels_for(2) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128,
                               512: 64, 1024: 32}
