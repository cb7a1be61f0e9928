"""The exact fast layers of the static engine against the direct computation.

* the Toom-Cook matrices against a plain 1-D correlation (float64);
* :class:`WinogradConv3x3` against ``F.conv2d`` on random tensors, eager and exported
  to Paddle Inference (graph passes run there, so the layer is pinned in both);
* the rewritten residual and up-sampling blocks against the original ones;
* the swap context restores the networks.

The end-to-end check of both engines against the golden files is in
``tests/test_static_engine.py``.
"""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

from ppgan_fom.modules.inference_layers import (FastResBlock2d, FastUpBlock2d,
                                                fast_inference_layers,
                                                upsample_conv_transpose_filter)
from ppgan_fom.modules.res_block import ResBlock2d
from ppgan_fom.modules.up_block import UpBlock2d
from ppgan_fom.modules.winograd import WinogradConv3x3, toom_cook

# Rounding of F(4x4, 3x3) in float32 is ~2e-5 of the output scale here (256 channels);
# a broken transform entry moves the output by ~1e-1 of it (see the sensitivity test).
RTOL = {2: 2e-6, 4: 2e-5, 6: 5e-5}


def _rand(shape, seed, scale=1.0):
    return (np.random.RandomState(seed).standard_normal(shape) * scale).astype(np.float32)


def _rel_err(got, want) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def _direct(x, w, b):
    with paddle.no_grad():
        return F.conv2d(paddle.to_tensor(x), paddle.to_tensor(w),
                        None if b is None else paddle.to_tensor(b), padding=1).numpy()


@pytest.mark.parametrize("m", [2, 4, 6])
def test_toom_cook_is_a_correlation(m):
    at, g, bt = toom_cook(m)
    n = m + 2
    assert at.shape == (m, n) and g.shape == (n, 3) and bt.shape == (n, n)
    rng = np.random.RandomState(m)
    for _ in range(5):
        d, k = rng.standard_normal(n), rng.standard_normal(3)
        want = np.array([sum(d[i + j] * k[j] for j in range(3)) for i in range(m)])
        np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), want, rtol=0, atol=1e-12)


def _winograd_case(m, cin, cout, h, w, batch, bias, seed=0):
    wt = _rand((cout, cin, 3, 3), seed, 1 / np.sqrt(9 * cin))
    b = _rand((cout,), seed + 1, 0.1) if bias else None
    x = _rand((batch, cin, h, w), seed + 2)
    return x, wt, b


@pytest.mark.parametrize("m", [2, 4, 6])
@pytest.mark.parametrize("cin,cout,h,w,batch,bias", [
    (256, 256, 64, 64, 1, True),   # the vox-256 bottleneck convolution
    (16, 24, 16, 16, 2, True),     # batch > 1, Cin != Cout
    (5, 3, 7, 10, 2, False),       # partial tiles at the bottom/right border
    (4, 4, 1, 1, 1, True),         # a single pixel
])
def test_winograd_equals_direct_conv(m, cin, cout, h, w, batch, bias):
    x, wt, b = _winograd_case(m, cin, cout, h, w, batch, bias)
    layer = WinogradConv3x3(wt, b, m)
    with paddle.no_grad():
        got = layer(paddle.to_tensor(x)).numpy()
    want = _direct(x, wt, b)
    assert got.shape == want.shape
    assert _rel_err(got, want) < RTOL[m]


@pytest.mark.parametrize("buffer", ["kin", "kout", "u"])
def test_one_wrong_transform_entry_is_caught(buffer):
    """The tolerance above is tight enough to see any single wrong entry."""
    x, wt, b = _winograd_case(4, 32, 32, 16, 16, 1, True)
    layer = WinogradConv3x3(wt, b, 4)
    want = _direct(x, wt, b)
    arr = getattr(layer, buffer).numpy()
    flat = arr.reshape(-1)
    nonzero = np.flatnonzero(flat)
    for idx in nonzero[np.random.RandomState(1).choice(len(nonzero), 8, replace=False)]:
        bad = flat.copy()
        bad[idx] *= 1.25  # one entry off by a quarter
        getattr(layer, buffer).set_value(bad.reshape(arr.shape))
        with paddle.no_grad():
            got = layer(paddle.to_tensor(x)).numpy()
        assert _rel_err(got, want) > 10 * RTOL[4], f"{buffer}[{idx}] change not visible"
    getattr(layer, buffer).set_value(arr)


def _export_and_run(layer: nn.Layer, x: np.ndarray, tmp_path) -> np.ndarray:
    from paddle.static import InputSpec

    from ppgan_fom.engine import _export, _Predictor

    _export(layer, [InputSpec([None] + list(x.shape[1:]), "float32", "x")], tmp_path / "m")
    (out,) = _Predictor(tmp_path / "m", 2, False, False)(x)
    return out


@pytest.mark.parametrize("cin,cout,h,w,batch", [(64, 64, 16, 16, 1), (8, 12, 10, 7, 3)])
def test_winograd_in_paddle_inference(tmp_path, cin, cout, h, w, batch):
    """Exported and run by Paddle Inference (oneDNN and its fusion passes)."""
    x, wt, b = _winograd_case(4, cin, cout, h, w, batch, True, seed=3)
    got = _export_and_run(WinogradConv3x3(wt, b, 4), x, tmp_path)
    assert _rel_err(got, _direct(x, wt, b)) < RTOL[4]


def _randomize_bn(bn: nn.BatchNorm2D, seed: int) -> None:
    rng = np.random.RandomState(seed)
    c = bn.weight.shape[0]
    bn.weight.set_value(rng.uniform(0.5, 1.5, c).astype(np.float32))
    bn.bias.set_value((rng.standard_normal(c) * 0.2).astype(np.float32))
    bn._mean.set_value((rng.standard_normal(c) * 0.3).astype(np.float32))
    var = rng.uniform(0.3, 2.0, c)
    var[:2] = 2e-5  # where epsilon (1e-5) matters
    bn._variance.set_value(var.astype(np.float32))


def _block(cls, *args, seed=0):
    paddle.seed(seed)
    blk = cls(*args)
    for i, layer in enumerate(blk.sublayers()):
        if isinstance(layer, nn.BatchNorm2D):
            _randomize_bn(layer, seed + i)
        if isinstance(layer, nn.Conv2D) and layer.bias is not None:
            layer.bias.set_value(_rand(layer.bias.shape, seed + i, 0.1))
    blk.eval()
    return blk


def test_fast_res_block_equals_res_block():
    blk = _block(ResBlock2d, 64, seed=4)
    x = paddle.to_tensor(_rand((2, 64, 12, 16), 5))
    with paddle.no_grad():
        want = blk(x).numpy()
        got = FastResBlock2d(blk).forward(x).numpy()
    assert _rel_err(got, want) < RTOL[4]


def test_upsample_conv_transpose_filter_equals_upsample_then_conv():
    w = _rand((6, 5, 3, 3), 6)
    x = _rand((2, 5, 7, 9), 7)
    up = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)  # nearest x2, independent of Paddle
    want = _direct(up, w, None)
    with paddle.no_grad():
        got = F.conv2d_transpose(paddle.to_tensor(x),
                                 paddle.to_tensor(upsample_conv_transpose_filter(w)
                                                  .astype(np.float32)),
                                 stride=2, padding=1).numpy()
    assert got.shape == want.shape == (2, 6, 14, 18)
    assert _rel_err(got, want) < 1e-6


def test_fast_up_block_equals_up_block():
    blk = _block(UpBlock2d, 12, 8, seed=8)
    x = paddle.to_tensor(_rand((2, 12, 9, 6), 9))
    with paddle.no_grad():
        want = blk(x).numpy()
        got = FastUpBlock2d(blk)(x).numpy()
    assert got.shape == (2, 8, 18, 12)
    assert _rel_err(got, want) < 1e-5


class _Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(ResBlock2d(8), ResBlock2d(8))
        self.ups = nn.LayerList([UpBlock2d(8, 4)])

    def forward(self, x):
        return self.ups[0](self.body(x))


def test_swap_context_swaps_and_restores():
    paddle.seed(10)
    net = _Net()
    net.eval()
    for layer in net.sublayers():
        if isinstance(layer, nn.BatchNorm2D):
            _randomize_bn(layer, 11)
    x = paddle.to_tensor(_rand((1, 8, 8, 8), 12))
    state = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    with paddle.no_grad():
        want = net(x).numpy()
        with fast_inference_layers(net) as n:
            assert n == 3
            assert [type(b) for b in net.body] == [FastResBlock2d, FastResBlock2d]
            assert type(net.ups[0]) is FastUpBlock2d
            fast = net(x).numpy()
        assert _rel_err(fast, want) < RTOL[4]
        with pytest.raises(RuntimeError):
            with fast_inference_layers(net):
                raise RuntimeError("export failed")
        assert [type(b) for b in net.body] == [ResBlock2d, ResBlock2d]
        assert type(net.ups[0]) is UpBlock2d
        np.testing.assert_array_equal(net(x).numpy(), want)
    assert set(net.state_dict()) == set(state)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k])


def test_folding_needs_eval_mode():
    blk = _block(ResBlock2d, 8)
    blk.train()
    with pytest.raises(ValueError, match="eval"):
        FastResBlock2d(blk)


def _sampling_grid(b, h, w, seed, spread):
    """Identity grid, scaled by ``spread`` and jittered: points inside, on and outside
    the image, plus some exactly on pixel centres and on the border."""
    rng = np.random.RandomState(seed)
    ys, xs = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    g = np.stack([xs, ys], -1)[None].repeat(b, 0) * spread + rng.standard_normal((b, h, w, 2)) * 0.1
    g[:, ::3] = np.stack([xs, ys], -1)[::3]  # exact pixel centres (incl. -1 and 1)
    return g.astype(np.float32)


@pytest.mark.parametrize("b,c,h,w,ho,wo,spread", [
    (1, 256, 64, 64, 64, 64, 1.05),   # the vox-256 feature warp
    (3, 5, 9, 13, 7, 11, 1.6),        # batch, odd sizes, output size != input size
    (2, 3, 8, 8, 8, 8, 4.0),          # mostly outside the image
])
def test_gather_grid_sample_equals_grid_sample(b, c, h, w, ho, wo, spread):
    from ppgan_fom.modules.sampling import GatherGridSample

    x = _rand((b, c, h, w), 13)
    grid = _sampling_grid(b, ho, wo, 14, spread)
    with paddle.no_grad():
        want = F.grid_sample(paddle.to_tensor(x), paddle.to_tensor(grid), mode="bilinear",
                             padding_mode="zeros", align_corners=True).numpy()
        got = GatherGridSample()(paddle.to_tensor(x), paddle.to_tensor(grid)).numpy()
    assert got.shape == want.shape
    assert _rel_err(got, want) < 5e-7


class _Warp(nn.Layer):
    """The pattern of DenseMotionNetwork.deform_source: tile, warp, reshape to 5-D."""

    def __init__(self):
        super().__init__()
        from ppgan_fom.modules.sampling import GatherGridSample

        self.warp = GatherGridSample()

    def forward(self, x):
        _, c, h, w = x.shape
        g = paddle.tanh(x[:, :2].transpose([0, 2, 3, 1]) * 3.0) * 1.2  # grid from the graph
        g = paddle.concat([g, g * 0.5], axis=0)                         # (2B, h, w, 2)
        rep = paddle.tile(x.unsqueeze(1), [1, 2, 1, 1, 1]).reshape([-1, c, h, w])
        return self.warp(rep, g).reshape([-1, 2, c, h, w])


def test_gather_grid_sample_in_paddle_inference(tmp_path):
    x = _rand((2, 6, 16, 12), 15)
    got = _export_and_run(_Warp(), x, tmp_path)
    g = np.tanh(x[:, :2].transpose(0, 2, 3, 1) * 3.0) * 1.2
    g = np.concatenate([g, g * 0.5])
    rep = np.repeat(x[:, None], 2, axis=1).reshape(-1, 6, 16, 12)
    with paddle.no_grad():
        want = F.grid_sample(paddle.to_tensor(rep), paddle.to_tensor(g), mode="bilinear",
                             padding_mode="zeros", align_corners=True).numpy()
    assert got.shape == (2, 2, 6, 16, 12)
    assert _rel_err(got.reshape(want.shape), want) < 1e-5  # tanh in oneDNN vs numpy
