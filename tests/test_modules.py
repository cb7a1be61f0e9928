"""Shapes and invariants of the FOMM networks on tiny seeded random models."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from ppgan_fom.config import DenseMotionConfig, GeneratorConfig, KPDetectorConfig, ModelConfig
from ppgan_fom.model import build_fomm
from ppgan_fom.modules.antialias import AntiAliasInterpolation2d

TINY = ModelConfig(
    kp_detector=KPDetectorConfig(block_expansion=4, max_features=8, scale_factor=0.5, num_blocks=3),
    generator=GeneratorConfig(block_expansion=4, max_features=8, num_bottleneck_blocks=1,
                              dense_motion_params=DenseMotionConfig(block_expansion=4,
                                                                    max_features=8, num_blocks=3,
                                                                    scale_factor=0.5)),
    num_kp=5, image_size=32, name="tiny")


@pytest.fixture(scope="module")
def tiny():
    paddle.seed(7)
    gen, kp = build_fomm(TINY, inference=False)
    gen.eval(), kp.eval()
    return gen, kp


def _img(b, seed=0, size=32):
    return paddle.to_tensor(np.random.RandomState(seed).rand(b, 3, size, size).astype("float32"))


def test_output_shapes(tiny):
    gen, kp = tiny
    x = _img(2)
    with paddle.no_grad():
        k = kp(x)
        out = gen(x, kp_driving=k, kp_source=k)
    assert k["value"].shape == [2, 5, 2] and k["jacobian"].shape == [2, 5, 2, 2]
    assert float(k["value"].abs().max()) <= 1.0
    assert out["prediction"].shape == [2, 3, 32, 32]
    assert out["deformed"].shape == [2, 3, 32, 32]
    assert out["mask"].shape == [2, 6, 16, 16]
    assert out["sparse_deformed"].shape == [2, 6, 3, 16, 16]
    assert out["deformation"].shape == [2, 16, 16, 2]
    assert out["occlusion_map"].shape == [2, 1, 16, 16]
    p = out["prediction"].numpy()
    assert p.min() > 0 and p.max() < 1
    np.testing.assert_allclose(out["mask"].numpy().sum(1), 1.0, atol=1e-5)


def test_identity_motion_gives_identity_flow():
    """Driving keypoints equal to the source ones: every sparse motion is the identity,
    so the dense flow is the identity grid and `deformed` reproduces the source (with the
    dense motion at full resolution, so no flow resizing is involved)."""
    import dataclasses

    from ppgan_fom.modules.grid import make_coordinate_grid

    dm = dataclasses.replace(TINY.generator.dense_motion_params, scale_factor=1)
    cfg = dataclasses.replace(TINY, generator=dataclasses.replace(TINY.generator,
                                                                  dense_motion_params=dm))
    paddle.seed(11)
    gen, kp = build_fomm(cfg, inference=False)
    gen.eval(), kp.eval()
    x = _img(1, seed=3)
    with paddle.no_grad():
        k = kp(x)
        out = gen(x, kp_driving=k, kp_source=k)
    ident = make_coordinate_grid((32, 32)).numpy()
    np.testing.assert_allclose(out["deformation"].numpy()[0], ident, atol=2e-5)
    np.testing.assert_allclose(out["deformed"].numpy(), x.numpy(), atol=1e-4)


def test_batch_elements_are_independent(tiny):
    gen, kp = tiny
    x = _img(3, seed=5)
    with paddle.no_grad():
        k = kp(x)
        ks = {n: v[0:1].tile([3] + [1] * (v.ndim - 1)) for n, v in k.items()}
        both = gen(x[0:1].tile([3, 1, 1, 1]), kp_driving=k, kp_source=ks)["prediction"].numpy()
        one = gen(x[0:1], kp_driving={n: v[2:3] for n, v in k.items()},
                  kp_source={n: v[0:1] for n, v in k.items()})["prediction"].numpy()
    np.testing.assert_allclose(both[2:3], one, atol=1e-5)


def test_cached_source_features_are_equivalent(tiny):
    gen, kp = tiny
    x = _img(1, seed=9)
    with paddle.no_grad():
        k = kp(x)
        a = gen(x, kp_driving=k, kp_source=k)["prediction"].numpy()
        b = gen(x, kp_driving=k, kp_source=k, source_features=gen.encode(x))["prediction"].numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scale,size", [(0.25, 13), (0.5, 5), (1.0, 1)])
def test_antialias_kernel(scale, size):
    layer = AntiAliasInterpolation2d(3, scale)
    w = layer.weight.numpy()
    assert w.shape == (3, 1, size, size) or scale == 1.0
    np.testing.assert_allclose(w.sum(axis=(2, 3)), 1.0, atol=1e-6)
    x = paddle.ones([1, 3, 64, 64])
    y = layer(x).numpy()
    assert y.shape == (1, 3, int(64 * scale), int(64 * scale))
    # a constant image stays constant away from the zero-padded border
    c = y.shape[-1] // 2
    assert abs(y[0, 0, c, c] - 1.0) < 1e-5


def test_inference_border_blend_only_touches_border(tiny):
    """inference=True only changes the flow near the border (PaddleGAN's blend)."""
    from ppgan_fom.modules.border_blend import border_blend_map

    g = border_blend_map(64, 64)
    assert g[0].max() == 0 and g[:, 0].max() == 0
    assert np.all(g[9:-9, 9:-9] == 1.0)
    assert np.all((g >= 0) & (g <= 1))


@pytest.mark.parametrize("scale", [0.5, 0.25, 0.125])
def test_antialias_equals_full_blur_then_subsample(scale):
    """The strided computation keeps exactly the pixels of blur-at-full-res then [::step]."""
    from scipy.signal import correlate2d

    layer = AntiAliasInterpolation2d(2, scale)
    x = np.random.RandomState(1).rand(1, 2, 32, 32).astype("float32")
    k = layer.weight.numpy()[0, 0].astype(np.float64)
    step = int(round(1 / scale))
    for c in range(2):
        pad = np.pad(x[0, c].astype(np.float64), layer.ka)
        full = correlate2d(pad, k, mode="valid")
        np.testing.assert_allclose(layer(paddle.to_tensor(x)).numpy()[0, c], full[::step, ::step],
                                   atol=1e-6)
